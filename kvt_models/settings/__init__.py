"""Run settings: each option's rule declared once (for the CLI and the form), RunConfig, recipes, precision."""
