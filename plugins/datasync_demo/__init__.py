"""The demo JDE/CMS source generator and the demo run (not part of the production package)."""
