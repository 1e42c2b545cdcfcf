"""flowpipe compiler: checks flow files and turns them into what Argo CD applies."""

__version__ = "0.1.0"
