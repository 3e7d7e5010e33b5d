"""Unit tests for ims.auth (a package so that module names do not clash with other test dirs)."""
