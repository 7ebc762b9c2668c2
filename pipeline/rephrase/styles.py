"""Rephrasing styles: versioned prompts with their segmentation budget and check thresholds.

A style is `name@N`; its prompt text is hashed (`prompt_hash`) and the hash goes into every
synthetic row's `generator`, so a changed prompt is visibly a different generator. A change
to a style's prompt or thresholds is a new version, never an edit of an old one.

The five Nemotron-CC styles (Su et al. 2024, prompts as in NeMo Curator's nemotron_cc module)
and WRAP's four (Maini et al. 2024: easy, medium = Wikipedia-like, hard, QA). Input budgets
per style are Nemotron-CC's (512 / 1000 / 2000 / 1400 / 1000 tokens); `min_tokens` 50 (100 for
QA) as there. The ratio bounds are the `too_short` / `too_long` thresholds (output tokens per
input token), the rest of `Thresholds` drive the fidelity checks in `checks.py`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

NEMOTRON_SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. The assistant gives "
                   "helpful, detailed, and polite answers to the questions.")
WRAP_SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. The assistant gives "
               "helpful, detailed, and polite answers to the user's questions.")


@dataclass(frozen=True)
class Thresholds:
    min_tokens: int = 50             # too_short below (after prefix and markdown are stripped)
    min_ratio: float = 0.3           # too_short: output tokens / input tokens below this
    max_ratio: float = 3.0           # too_long: above this
    max_copy: float = 0.8            # copy: share of the output's 8-grams found in the input
    max_lost_numbers: float = 0.5    # lost_numbers: share of the input's numbers missing
    max_invented_numbers: int = 2    # invented_numbers: numbers in the output the input lacks
    max_lost_entities: float = 0.7   # lost_entities: share of the input's capitalised names missing
    near_cap: float = 0.95           # truncated: output within this share of max_new_tokens
    check_numbers: bool = True       # off for styles that legitimately drop most details (distill)


@dataclass(frozen=True)
class Style:
    name: str
    version: int
    user: str                        # template: {document}
    system: str | None
    prefix: str | None               # required answer prefix ("Here is a paraphrased version:")
    input_tokens: int                # segmentation budget per request
    thresholds: Thresholds = field(default_factory=Thresholds)
    temperature: float = 0.5
    top_p: float = 0.9

    @property
    def versioned(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def prompt_hash(self) -> str:
        return hashlib.sha256(f"{self.system}\x00{self.user}\x00{self.prefix}".encode()).hexdigest()[:12]

    def messages(self, document: str) -> list[dict]:
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        return msgs + [{"role": "user", "content": self.user.format(document=document)}]


def _nemotron(name, user, prefix, budget, system=NEMOTRON_SYSTEM, **th) -> Style:
    return Style(name, 1, user, system, prefix, budget, Thresholds(**th))


STYLES: dict[str, Style] = {s.name: s for s in [
    _nemotron("wiki",
              "For the following paragraph give me a diverse paraphrase of the same in high quality English "
              "language as in sentences on Wikipedia. Begin your answer on a separate line with \"Here is a "
              "paraphrased version:\".\n\nText: {document}",
              "Here is a paraphrased version:", 512),
    _nemotron("qa",
              "Task:\nRead the text, ask questions and answer them.\n\nFollow these instructions:\n1. Ask diverse "
              "questions that require different cognitive skills or cover different aspects of the text.\n2. Ask "
              "questions in various forms such as:\n  - Yes/No questions that require determining whether a "
              "statement is true or false.\n  - Open-ended questions that begin with words like what, how, when, "
              "where, why and who.\n  - Multi-choice questions that offers two or more options to choose from. "
              "Include the options in the question.\n  - Comparison questions that compare two quantities or "
              "objects and determine the relationship between them.\n  - Reading comprehension questions that "
              "test the ability to understand and analyze the text.\n  - Problem-solving questions that test the "
              "ability to solve mathematical, physical, or logical problems.\n3. Focus on asking questions about "
              "factual information, important knowledge, or concrete details in the text.\n4. Write questions and "
              "answers using clear and concise language.\n5. Use plain text. Do not use Markdown.\n6. Each question "
              "and answer pair should be on a separate line. Tag the question with \"Question:\" and the answer "
              "with \"Answer:\".\n\nText:\n{document}\n\nTask:\nAfter reading the above text, ask up to 8 questions "
              "and provide the correct answers following the instructions. Give your response in this format:\n\n"
              "Here are the questions and answers based on the provided text:\n- Question: [first question] Answer: "
              "[first answer]\n- Question: [second question] Answer: [second answer]\n....",
              "Here are the questions and answers based on the provided text:", 1000, system=None,
              min_tokens=100, min_ratio=0.2, max_ratio=4.0, max_copy=0.9, max_lost_numbers=1.0,
              max_lost_entities=1.0),
    _nemotron("distill",
              "Your task is to read and paraphrase the provided text following these instructions:\n- Aim to "
              "create a condensed but accurate and informative version of the original text, not a simplistic "
              "summary.\n- Capture and preserve the crucial information, key concepts, important values, factual "
              "details in the original text, while making it more readable and accessible.\n- Retain technical "
              "terms, specialized vocabulary, and complex concepts.\n- Retain examples, explanations of reasoning "
              "processes, and supporting evidence to maintain the text's depth and context.\n- Only include "
              "information that is present in the original text. Do not adding new or unsubstantiated claims.\n"
              "- Write in plain text.\n\nHere is the text:\n{document}\n\nTask:\nAfter thoroughly reading the "
              "above text, paraphrase it in high-quality and clear English following the instructions. Start your "
              "response with \"Paraphrased Text:\".",
              "Paraphrased Text:", 2000, system=NEMOTRON_SYSTEM + " The assistant is to paraphrase texts.",
              min_ratio=0.1, max_ratio=1.5, max_lost_numbers=0.8, max_lost_entities=0.9),
    _nemotron("extract_knowledge",
              "Your task is to rewrite knowledge from the provided text following these instructions.\n- Rewrite "
              "the text as a passage or passages using easy-to-understand and high-quality English like sentences "
              "in textbooks and Wikipedia.\n- Focus on content in disciplines such as humanities, social sciences, "
              "natural sciences, technology, engineering, math, law and legal, business, management, art, "
              "education, agricultural sciences, politics, and history.\n- Disregard content that does not "
              "contain useful facts or knowledge.\n- Retain examples, explanations of reasoning processes, and "
              "supporting evidence to maintain the text's depth and context.\n- Do not add or alter details. Only "
              "restate what is already in the text.\n- Write in plain text.\n- Do not add titles, subtitles, note, "
              "or comment.\n\nText:\n{document}\n\nTask:\nRewrite facts and knowledge from the above text as a "
              "passage or passages following the instructions.",
              None, 1400, system=None, min_ratio=0.1, max_ratio=2.0, max_lost_numbers=0.8, max_lost_entities=0.9),
    _nemotron("knowledge_list",
              "Review the text and extract the key information. Follow these instructions:\n- Carefully read the "
              "above text and provide a concise and organized list of factual information, concrete details, key "
              "concepts, and important numbers and statistics extracted from the text.\n- Ensure each point is "
              "clear, specific, and supported by the original text.\n- Ensure the extract text is information-"
              "dense and easier to learn from.\n- Do not add titles or headings.\n\nText:\n{document}\n\nTask:\n"
              "Extract the factual information, concrete details, and key concepts from the above text following "
              "the instructions.",
              None, 1000, system=None, min_ratio=0.1, max_ratio=2.0, max_lost_numbers=0.8, max_lost_entities=0.9),
    # WRAP (Maini et al. 2024): the same passage for a toddler, as Wikipedia, as a scholar, as QA
    Style("wrap_easy", 1, "For the following paragraph give me a paraphrase of the same using a very small vocabulary "
          "and extremely simple sentences that a toddler will understand:\n\n{document}", WRAP_SYSTEM, None, 300,
          Thresholds(min_ratio=0.2, max_lost_numbers=0.8, max_lost_entities=0.9)),
    Style("wrap_medium", 1, "For the following paragraph give me a diverse paraphrase of the same in high quality "
          "English language as in sentences on Wikipedia:\n\n{document}", WRAP_SYSTEM, None, 300),
    Style("wrap_hard", 1, "For the following paragraph give me a paraphrase of the same using very terse and abstruse "
          "language that only an erudite scholar will understand. Replace simple words and phrases with rare and "
          "complex ones:\n\n{document}", WRAP_SYSTEM, None, 300),
    Style("wrap_qa", 1, "Convert the following paragraph into a conversational format with multiple tags of "
          "\"Question:\" followed by \"Answer:\":\n\n{document}", WRAP_SYSTEM, None, 300,
          Thresholds(min_ratio=0.2, max_ratio=4.0, max_copy=0.9, max_lost_numbers=1.0, max_lost_entities=1.0)),
]}
CLI_STYLES = ("wiki", "qa", "distill", "extract_knowledge", "knowledge_list")


def get_style(name: str) -> Style:
    base = name.split("@")[0]
    if base not in STYLES:
        raise ValueError(f"unknown style {name!r}; styles: {', '.join(STYLES)}")
    style = STYLES[base]
    if "@" in name and name != style.versioned:
        raise ValueError(f"style {name!r} does not exist; this version of gristmill has {style.versioned}")
    return style


_RULE = re.compile(r"^\s*(\w+)\s*(>=|<=|>|<|==|!=)\s*([-\w.]+)\s*$")


def choose_styles(rules: list[dict], row: dict, default: list[str]) -> list[str]:
    """The styles for one document: the first rule whose `when` holds over the row's columns,
    e.g. {when: "score_quality < 0.3", styles: [wiki]} (Nemotron-CC: low-quality buckets get the
    Wikipedia style only); a rule without `when` always holds; no rule holding: `default`."""
    for rule in rules:
        cond = rule.get("when")
        if cond is None or eval_condition(cond, row):
            return list(rule.get("styles") or [])
    return list(default)


def eval_condition(cond: str, row: dict) -> bool:
    """`COLUMN OP VALUE`, with `and` between clauses; a null column never holds."""
    for clause in re.split(r"\s+and\s+", cond.strip()):
        m = _RULE.match(clause)
        if not m:
            raise ValueError(f"cannot read the condition {clause!r}: write COLUMN OP VALUE (OP one of < <= > >= == !=)")
        col, op, raw = m.groups()
        value = row.get(col)
        if value is None:
            return False
        try:
            target: object = float(raw)
            value = float(value)
        except (TypeError, ValueError):
            target, value = raw, str(value)
        ok = {"<": value < target, "<=": value <= target, ">": value > target, ">=": value >= target,
              "==": value == target, "!=": value != target}[op]
        if not ok:
            return False
    return True


def segment(text: str, budget: int, count_tokens) -> list[str]:
    """Lines re-joined into segments of at most `budget` tokens (Nemotron-CC's per-style input
    budgets); a line longer than what is left is continued word by word, so a title stays with
    the paragraph that follows it."""
    segments: list[str] = []
    buf, used = "", 0

    def flush():
        nonlocal buf, used
        if buf.strip():
            segments.append(buf.strip())
        buf, used = "", 0

    for line in text.split("\n"):
        n = count_tokens(line) + 1
        if used + n <= budget:
            buf, used = (buf + "\n" + line if buf else line), used + n
            continue
        if n <= budget:
            flush()
            buf, used = line, n
            continue
        sep = "\n" if buf else ""
        for w in line.split(" "):
            wn = max(1, count_tokens(w))
            if buf and used + wn > budget:
                flush()
                sep = ""
            buf, used, sep = (buf + sep + w if buf else w), used + wn, " "
    flush()
    return segments
