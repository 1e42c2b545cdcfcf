"""Built-in stage types (registered as ``flowpipe.stages`` entry points)."""
