"""The one-command demo: a faded print and a DVD made from bundled photographs, restored end to end."""
