"""XMP sidecars (``<frame>.xmp``) written and read with lxml.

The packet carries the IPTC digital source type where IPTC puts it,
``Iptc4xmpExt:DigitalSourceType`` (namespace
``http://iptc.org/std/Iptc4xmpExt/2008-02-29/``), Dublin Core and XMP basic
fields that asset managers show, and every provenance key of the EXR header
under archivist's own namespace, so the sidecar says the same as the header
key for key. Serialisation is canonical (fixed order, no time stamps of its
own), so the same provenance always gives the same bytes.
"""

from __future__ import annotations

from lxml import etree

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "archivist": "urn:archivist:xmp:provenance:1/",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def build(*, digital_source_type: str, description: str, source: str, identifier: str, creator_tool: str,
          create_date: str, keys: dict[str, str]) -> bytes:
    """An XMP packet as UTF-8 bytes.

    ``keys`` are the EXR provenance keys (name -> string), written as
    ``archivist:<name>`` in sorted order.

    >>> data = build(digital_source_type="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
    ...              description="d", source="data/sources/a/f.1.exr", identifier="data/outputs/r/o.1.exr",
    ...              creator_tool="archivist 0", create_date="2026-01-01T00:00:00Z", keys={"RecoveryType": "Spatial"})
    >>> parse(data)["DigitalSourceType"].rsplit("/", 1)[-1]
    'trainedAlgorithmicMedia'
    >>> parse(data)["keys"]
    {'RecoveryType': 'Spatial'}
    """
    meta = etree.Element(_q("x", "xmpmeta"), nsmap={"x": NS["x"]})
    meta.set(_q("x", "xmptk"), creator_tool)
    rdf = etree.SubElement(meta, _q("rdf", "RDF"), nsmap={"rdf": NS["rdf"]})
    desc = etree.SubElement(rdf, _q("rdf", "Description"),
                            nsmap={p: NS[p] for p in ("dc", "xmp", "Iptc4xmpExt", "archivist")})
    desc.set(_q("rdf", "about"), "")
    etree.SubElement(desc, _q("Iptc4xmpExt", "DigitalSourceType")).text = digital_source_type
    etree.SubElement(desc, _q("dc", "format")).text = "image/x-exr"
    etree.SubElement(desc, _q("dc", "identifier")).text = identifier
    etree.SubElement(desc, _q("dc", "source")).text = source
    alt = etree.SubElement(etree.SubElement(desc, _q("dc", "description")), _q("rdf", "Alt"))
    li = etree.SubElement(alt, _q("rdf", "li"))
    li.set(XML_LANG, "x-default")
    li.text = description
    etree.SubElement(desc, _q("xmp", "CreatorTool")).text = creator_tool
    etree.SubElement(desc, _q("xmp", "CreateDate")).text = create_date
    for name in sorted(keys):
        etree.SubElement(desc, _q("archivist", name)).text = keys[name]
    return etree.tostring(meta, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def parse(data: bytes) -> dict:
    """The fields archivist writes, read back from an XMP packet (any extra fields are ignored).

    Raises ``ValueError`` for bytes that are not an XMP packet, and for a
    document type declaration: an XMP packet has none, and entities are
    never expanded or fetched.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                             dtd_validation=False, remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise ValueError("has a document type declaration (an XMP packet has none; entities are not expanded)")
    if root.tag != _q("x", "xmpmeta"):
        raise ValueError(f"root element is {root.tag}, not x:xmpmeta")
    desc = root.find(f"{_q('rdf', 'RDF')}/{_q('rdf', 'Description')}")
    if desc is None:
        raise ValueError("no rdf:Description")

    def text(prefix, name):
        el = desc.find(_q(prefix, name))
        return el.text if el is not None else None

    li = desc.find(f"{_q('dc', 'description')}/{_q('rdf', 'Alt')}/{_q('rdf', 'li')}")
    # Only elements: an entity reference left unexpanded is a node without a string tag.
    keys = {el.tag.split("}", 1)[1]: el.text or "" for el in desc
            if isinstance(el.tag, str) and el.tag.startswith("{" + NS["archivist"])}
    return {"DigitalSourceType": text("Iptc4xmpExt", "DigitalSourceType"), "format": text("dc", "format"),
            "identifier": text("dc", "identifier"), "source": text("dc", "source"),
            "description": li.text if li is not None else None, "CreatorTool": text("xmp", "CreatorTool"),
            "CreateDate": text("xmp", "CreateDate"), "keys": keys}
