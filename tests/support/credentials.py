"""Helpers for the credential tests: certificates, tiny frames, a local TSA.

Everything is real: certificates from ``cryptography``, frames written
through ``archivist.imaging.oiio``, ONNX models built with ``onnx.helper``, and
RFC 3161 timestamps from ``openssl ts`` behind a local HTTP server.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import onnx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from archivist.credentials import keys
from archivist.imaging import oiio
from support.common import photo

FRAME_SIZE = (48, 64)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_frame(path: Path, *, offset: int = 0, image: str = "astronaut") -> Path:
    """A tiny real EXR (or PNG/TIFF by extension) cut from a photograph."""
    h, w = FRAME_SIZE
    pixels = photo(image)[100 + offset:100 + offset + h, 150 + offset:150 + offset + w]
    ext = Path(path).suffix.lower()
    ptype = {".exr": "half", ".png": "uint8", ".tif": "uint16"}[ext]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    oiio.write(Path(path), pixels, pixel_type=ptype, compression="piz" if ext == ".exr" else None)
    return Path(path)


def tiny_onnx(path: Path) -> Path:
    """A real, checker-clean ONNX model (one Identity node)."""
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, None, None])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3, None, None])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 20)])
    onnx.checker.check_model(model, full_check=True)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(model.SerializeToString())
    return Path(path)


def closed_port() -> int:
    """A localhost port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- certificates with one thing wrong ------------------------------------------
def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, keys.TEST_ORGANIZATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_chain(*, self_signed=False, eku=True, aki=True, leaf_ca=False, digital_signature=True,
               expired=False) -> tuple[bytes, bytes, bytes]:
    """(CA PEM, chain PEM, key PEM) for an ES256 leaf with the requested defect."""
    now = dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(days=2), now + dt.timedelta(days=30)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("CA")).issuer_name(_name("CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    issuer_key, issuer_name = (leaf_key, _name("leaf")) if self_signed else (ca_key, ca.subject)
    b = (x509.CertificateBuilder().subject_name(_name("leaf")).issuer_name(issuer_name)
         .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(start).not_valid_after(now - dt.timedelta(days=1) if expired else end)
         .add_extension(x509.BasicConstraints(ca=leaf_ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature, False, False, False, False, False, False, False, False),
                        critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False))
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
    if aki:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    leaf = b.sign(issuer_key, hashes.SHA256())
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    chain = pem(leaf) if self_signed else pem(leaf) + pem(ca)
    return pem(ca), chain, keys.unencrypted_pem(leaf_key)


# -- a local RFC 3161 timestamp authority ------------------------------------------
class LocalTSA:
    """``openssl ts -reply`` behind a localhost HTTP server, with its own CA."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.server = None

    @staticmethod
    def available() -> bool:
        return shutil.which("openssl") is not None

    def __enter__(self) -> LocalTSA:
        now = dt.datetime.now(dt.UTC)
        ca_key, tsa_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])  # noqa: E731
        ca = (x509.CertificateBuilder().subject_name(name("test TSA CA")).issuer_name(name("test TSA CA"))
              .public_key(ca_key.public_key()).serial_number(1)
              .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
        tsa = (x509.CertificateBuilder().subject_name(name("test TSA")).issuer_name(ca.subject)
               .public_key(tsa_key.public_key()).serial_number(2)
               .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
        self.ca_pem = ca.public_bytes(serialization.Encoding.PEM)
        (self.dir / "tsa.pem").write_bytes(tsa.public_bytes(serialization.Encoding.PEM))
        (self.dir / "ca.pem").write_bytes(self.ca_pem)
        (self.dir / "tsa.key").write_bytes(keys.unencrypted_pem(tsa_key))
        (self.dir / "serial").write_text("01\n")
        (self.dir / "ts.cnf").write_text(
            "[ tsa ]\ndefault_tsa = t\n[ t ]\n"
            f"serial = {self.dir}/serial\ncrypto_device = builtin\nsigner_cert = {self.dir}/tsa.pem\n"
            f"certs = {self.dir}/ca.pem\nsigner_key = {self.dir}/tsa.key\nsigner_digest = sha256\n"
            "default_policy = 1.2.3.4.1\ndigests = sha256, sha384, sha512\naccuracy = secs:1\n"
            "ordering = yes\ntsa_name = no\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n")
        directory, lock = self.dir, threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                query = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    (directory / "q.tsq").write_bytes(query)
                    proc = subprocess.run(["openssl", "ts", "-reply", "-config", str(directory / "ts.cnf"),
                                           "-queryfile", str(directory / "q.tsq"), "-out", str(directory / "r.tsr")],
                                          capture_output=True)
                    body = (directory / "r.tsr").read_bytes() if proc.returncode == 0 else b""
                self.send_response(200 if body else 500)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/tsa"
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
