"""The delivery pictures in docs/ are what `make doc-pictures` draws from the code today."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from offline import doc_pictures

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    "path", [doc_pictures.TIMELINE, doc_pictures.DASHBOARD], ids=lambda p: p.name
)
def test_the_committed_picture_is_the_generated_one(path):
    generated = doc_pictures.pictures()[path]
    assert path.read_text() == generated, f"run `make doc-pictures`: {path.name} is stale"


def test_the_timeline_draws_every_task_of_the_sample_run():
    root = ET.fromstring(doc_pictures.timeline_svg())
    tasks = {t.text.split(":")[0] for t in root.iter(f"{SVG}title")}
    assert tasks == {
        "scan-images", "static-analysis", "approval", "backend-apply", "backend-rollout",
        "pwa-publish", "pwa-verify", "pwa-canary", "android-build", "android-publish",
    }  # fmt: skip
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Succeeded after 39m 36s" in texts


def test_the_dashboard_picture_shows_every_widget_title():
    root = ET.fromstring(doc_pictures.dashboard_svg())
    texts = {t.text for t in root.iter(f"{SVG}text")}
    body = doc_pictures.dashboard_body(doc_pictures.EXAMPLE)
    titles = {w["properties"]["title"] for w in body["widgets"] if w["type"] == "metric"}
    assert titles <= texts and len(titles) == 15  # 4 keys, 5 by lane, 3 feed, 3 live PWA
