"""Styles, segmentation, style rules, checks and licence policy, one by one."""

import pytest

from gristmill.pipeline.rephrase import checks
from gristmill.pipeline.rephrase.plan import count_tokens
from gristmill.pipeline.rephrase.policy import not_sent_reason, synthetic_license
from gristmill.pipeline.rephrase.styles import STYLES, choose_styles, get_style, segment


def test_styles_are_versioned_and_hashed():
    assert {"wiki", "qa", "distill", "extract_knowledge", "knowledge_list", "wrap_easy", "wrap_medium", "wrap_hard",
            "wrap_qa"} <= set(STYLES)
    assert len({s.prompt_hash for s in STYLES.values()}) == len(STYLES)
    assert get_style("wiki@1").prefix == "Here is a paraphrased version:"
    assert get_style("distill").prefix == "Paraphrased Text:"
    assert [STYLES[n].input_tokens for n in ("wiki", "qa", "distill", "extract_knowledge", "knowledge_list")] == \
        [512, 1000, 2000, 1400, 1000]
    with pytest.raises(ValueError):
        get_style("wiki@2")


def test_segments_respect_the_budget_and_keep_every_word():
    text = "\n".join(f"line {i} " + "word " * 30 for i in range(40)) + "\n" + "long " * 900
    segs = segment(text, 512, count_tokens)
    assert len(segs) > 2 and all(count_tokens(s) <= 512 for s in segs)
    assert sum(len(s.split()) for s in segs) == len(text.split())


def test_style_rules_pick_per_document():
    rules = [{"when": "score_quality < 0.3", "styles": ["wiki"]},
             {"when": "score_quality >= 0.3 and source == web", "styles": ["qa", "distill"]}]
    assert choose_styles(rules, {"score_quality": 0.1}, ["x"]) == ["wiki"]
    assert choose_styles(rules, {"score_quality": 0.9, "source": "web"}, ["x"]) == ["qa", "distill"]
    assert choose_styles(rules, {"score_quality": None}, ["x"]) == ["x"]


SRC = ("Marie Curie won the Nobel Prize in Physics in 1903 with Pierre Curie and Henri Becquerel, and the "
       "Nobel Prize in Chemistry in 1911. She was born in Warsaw in 1867 and worked in Paris for 35 years. Her "
       "daughter Irene Joliot-Curie also received a Nobel Prize, in 1935, for the synthesis of new radioactive "
       "elements, which made the family unique in the history of science.")


def verdict(output, finish="stop", style="wiki", tokens=None):
    s = get_style(style)
    m = checks.measure(SRC, output, s, count_tokens, tokens, finish, 512)
    return checks.verdict(m, s), m


def test_each_check_has_its_reason():
    good = ("Here is a paraphrased version: In 1903 Marie Curie, together with Pierre Curie and Henri Becquerel, "
            "received the physics Nobel; the chemistry prize followed in 1911. Born in Warsaw during 1867, she spent "
            "35 years working in Paris. Irene Joliot-Curie, her daughter, was also awarded a Nobel Prize in 1935 "
            "for making new radioactive elements, so the family holds a unique place in science.")
    assert verdict(good)[0] is None
    assert verdict(good, finish="length")[0] == "truncated"
    assert verdict(good, tokens=500)[0] == "truncated"  # at the cap
    assert verdict(good.replace("Here is a paraphrased version:", ""))[0] == "missing_prefix"
    assert verdict("Here is a paraphrased version: I'm sorry, but I cannot help with that. " * 5)[0] == "refusal"
    assert verdict("Here is a paraphrased version: " + "the cat sat on the mat " * 30)[0] == "repetition_loop"
    assert verdict("Here is a paraphrased version: Curie won prizes in 1903.")[0] == "too_short"
    assert verdict(good + " " + " ".join(f"aside{i}" for i in range(300)))[0] == "too_long"
    assert verdict("Here is a paraphrased version: " + SRC)[0] == "copy"
    assert verdict(good.replace("1903", "x").replace("1911", "y").replace("1867", "z"))[0] == "lost_numbers"
    assert verdict(good + " It cost 10, 20, 30 and 40 francs.")[0] == "invented_numbers"
    no_names = good
    for name in ("Marie", "Curie", "Pierre", "Henri", "Becquerel", "Warsaw", "Paris", "Nobel", "Irene", "Joliot"):
        no_names = no_names.replace(name, "someone")
    assert verdict(no_names)[0] == "lost_entities"


def test_licence_policy():
    assert not_sent_reason("CC-BY-ND-4.0", None, False) == "license_no_derivatives"
    assert not_sent_reason("CC-BY-NC-ND-4.0", None, False) == "license_no_derivatives"
    assert not_sent_reason("CC-BY-SA-4.0", None, False) is None
    assert not_sent_reason(None, None, True) == "license_unknown" and not_sent_reason(None, None, False) is None
    assert not_sent_reason("CC0-1.0", ["robots:GPTBot"], False) == "opted_out"
    assert synthetic_license("CC-BY-NC-SA-4.0", "Apache-2.0") == "CC-BY-NC-SA-4.0"
    assert synthetic_license("CC-BY-4.0", "Llama-3.3-Community") == "CC-BY-4.0 AND LicenseRef-Llama-3.3-Community"


def test_similarity_model_tells_a_paraphrase_from_another_text():
    from gristmill.pipeline.rephrase.embed import Embedder

    sims = Embedder().similarity([SRC, SRC], [
        "Marie Curie received the 1903 physics Nobel with Pierre Curie and Becquerel, and the 1911 chemistry prize.",
        "The recipe needs two cups of flour, a pinch of salt and an hour in a warm oven."])
    assert sims[0] > 0.6 > 0.2 > sims[1]
