"""robots.txt rules for AI crawlers, read from robots.txt captures, as opt-out evidence.

Common Crawl publishes the robots.txt fetches of every segment as separate WARCs; any
WARC with `/robots.txt` responses works. Rules are parsed with Protego (Scrapy's parser:
Google's matching rules, wildcards, longest match). A document gets `robots:<Agent>` for
each AI agent whose group disallows its URL (`robots:*` for the wildcard group), a signal
of the site's wishes as captured, not a legal decision.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from protego import Protego

AI_AGENTS = ("GPTBot", "ChatGPT-User", "OAI-SearchBot", "CCBot", "ClaudeBot", "Claude-Web", "anthropic-ai",
             "Google-Extended", "Applebot-Extended", "Bytespider", "Meta-ExternalAgent", "PerplexityBot",
             "cohere-ai", "Amazonbot", "Diffbot", "ImagesiftBot", "Omgilibot", "Timpibot")
MAX_ROBOTS_BYTES = 500 * 1024  # Google's limit: the rest of a longer file is ignored


def robots_key(url: str) -> str | None:
    """scheme://host[:port] that a robots.txt governs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def is_robots_url(url: str | None) -> bool:
    if not url:
        return False
    try:
        return urlsplit(url).path == "/robots.txt"
    except ValueError:
        return False


class RobotsRules:
    """robots.txt bodies by site; answers which AI agents may not fetch a URL."""

    def __init__(self, agents: tuple[str, ...] = AI_AGENTS):
        self.agents = agents
        self._parsed: dict[str, Protego | None] = {}

    def __len__(self) -> int:
        return len(self._parsed)

    def add(self, url: str, body: bytes | str, status: int | None = 200) -> None:
        key = robots_key(url)
        if key is None:
            return
        if status is not None and status >= 400:
            self._parsed.setdefault(key, None)  # 4xx: no rules, everything allowed
            return
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            self._parsed[key] = Protego.parse(text[:MAX_ROBOTS_BYTES])
        except Exception:  # noqa: BLE001 - an unparseable file gives no rules
            self._parsed[key] = None

    def signals(self, url: str | None) -> list[str]:
        if not url:
            return []
        key = robots_key(url)
        rules = self._parsed.get(key) if key else None
        if rules is None:
            return []
        named = _named_groups(rules)
        # An agent counts only where a group names it: a `*`-only disallow is `robots:*`,
        # not a copy of it for every agent.
        out = [f"robots:{a}" for a in self.agents
               if (named is None or a.lower() in named) and not _allowed(rules, url, a)]
        if not _allowed(rules, url, "*"):
            out.append("robots:*")
        return out


def _named_groups(rules: Protego) -> set[str] | None:
    """Lower-cased agent names that have their own group (None if Protego hides them)."""
    agents = getattr(rules, "_user_agents", None)
    return None if agents is None else {a for a in agents if a != "*"}


def _allowed(rules: Protego, url: str, agent: str) -> bool:
    if agent == "*":  # Protego falls back to `*` for an unknown agent: ask for one
        return rules.can_fetch(url, "gristmill-wildcard-probe")
    return rules.can_fetch(url, agent)
