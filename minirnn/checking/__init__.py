"""Checking: gradient checks (``gradcheck``), reusable test strategies and assertions (``testing``) and
gradient diagnostics over time (``diagnostics``). Not imported by ``import minirnn``."""
