"""axe-core in the browser tests: the serious and critical accessibility violations of a page.

The engine is the vendored, unmodified ``tests/vendor/axe.min.js`` (MPL-2.0, see
tests/vendor/README.md). It is added as an init script of the browser context, which runs
outside the page's Content-Security-Policy, so the pages keep their strict CSP under test.
"""
from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).with_name("vendor") / "axe.min.js"
BLOCKING = ("serious", "critical")


def enable_axe(context) -> None:
    """Makes ``window.axe`` available in every page the context opens from now on."""
    context.add_init_script(path=str(AXE))


def serious_violations(page) -> list[str]:
    """One readable line per serious/critical axe violation of the current page (WCAG 2.x A/AA rules)."""
    found = page.evaluate(
        """async () => {
          const r = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] }, resultTypes: ["violations"] });
          return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")) }));
        }"""
    )
    return [f"{v['impact']}: {v['id']} ({v['help']}) at {v['nodes']}" for v in found if v["impact"] in BLOCKING]
