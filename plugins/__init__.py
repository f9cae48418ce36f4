"""Built-in architecture plugins, written exactly like third-party ones."""
