"""flowpipe runtime: runs one compiled flow (``flowpipe-runtime /config/flow.yaml``)."""

__version__ = "0.1.0"
