"""The profile pipeline: config → client → load → measure → report → gate."""
