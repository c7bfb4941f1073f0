"""End-to-end: a real Home Assistant process, the Kraken simulator and headless Chromium."""
