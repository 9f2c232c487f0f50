"""Default and tuned configurations shipped as package data."""
