"""What the cloud recogniser tests share: a short scenario and how to compare their words."""

from __future__ import annotations

import re
from typing import Any

SCENARIO = """
description: Two short turns for the cloud path.
turns:
  - user: What time does the pharmacy open tomorrow?
    agent: It opens at nine.
  - user: And is it open on Sunday?
    agent: No, it is closed on Sunday.
"""


def words(events: list[dict[str, Any]]) -> list[str]:
    text = " ".join(e["text"] for e in events if e["type"] == "final")
    return re.findall(r"[a-z0-9']+", text.lower())
