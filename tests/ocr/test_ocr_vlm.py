"""The VLM client against a test double of an OpenAI-compatible server on loopback, and
the GPU stages' clean fallback to CPU (no GPU on the machines these tests run on)."""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gristmill.ocr.stage import OcrGpuStage
from gristmill.ocr.vlm import TEMPERATURES, VlmClient, parse_answer
from gristmill.ocr.vlm_stage import OcrVlmStage

from tests.support import ocr_fixtures as fx

LATEX = "Energy is $E = mc^2$, and\n\\[ \\int_0^1 x^2\\,dx = \\tfrac{1}{3} \\]"  # equations as olmOCR writes them
GOOD = ("---\nprimary_language: en\nis_rotation_valid: true\nrotation_correction: 0\nis_table: false\n"
        "is_diagram: false\n---\nHello from the model.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        + LATEX)
TURN = ("---\nprimary_language: en\nis_rotation_valid: false\nrotation_correction: 90\nis_table: false\n"
        "is_diagram: false\n---\n")


class FakeOpenAIServer:
    """Test double of a vLLM/SGLang server: answers /v1/chat/completions from a script
    (a list of (content, finish_reason); the last entry repeats) and records requests."""

    def __init__(self, script, delay_s: float = 0.0):
        self.script = list(script)
        self.requests: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.requests.append(body)
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                    content, finish = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                time.sleep(delay_s)
                reply = {"id": "x", "object": "chat.completion", "model": body["model"],
                         "choices": [{"index": 0, "finish_reason": finish,
                                      "message": {"role": "assistant", "content": content}}]}
                data = json.dumps(reply).encode()
                with outer.lock:
                    outer.in_flight -= 1
                if self.path != "/v1/chat/completions":
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server_factory():
    servers = []

    def make(script, delay_s=0.0):
        s = FakeOpenAIServer(script, delay_s)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def _png(w=40, h=20) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (w, h), "white").save(buf, format="PNG")
    return buf.getvalue()


def _size(request) -> tuple[int, int]:
    import base64

    from PIL import Image

    url = request["messages"][0]["content"][1]["image_url"]["url"]
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size


def test_parse_answer():
    fields, text = parse_answer(GOOD)
    assert fields["is_rotation_valid"] is True and fields["primary_language"] == "en"
    assert text.startswith("Hello from the model.") and "| 1 | 2 |" in text
    assert parse_answer("just text") == ({}, "just text")


def test_runaway_answers_are_retried_with_rising_temperature(server_factory):
    srv = server_factory([("loop loop loop", "length"), ("again", "length"), (GOOD, "stop")])
    ans = VlmClient(srv.url, model="m").read_page(_png())
    assert ans.text.startswith("Hello") and ans.attempts == 3
    assert [r["temperature"] for r in srv.requests] == list(TEMPERATURES[:3])
    assert srv.requests[0]["model"] == "m"


def test_rotation_correction_turns_the_image(server_factory):
    srv = server_factory([(TURN, "stop"), (GOOD, "stop")])
    ans = VlmClient(srv.url).read_page(_png(40, 20))
    assert ans.text.startswith("Hello") and ans.rotation == 90
    assert _size(srv.requests[0]) == (40, 20) and _size(srv.requests[1]) == (20, 40)


def test_gives_up_after_the_schedule(server_factory):
    srv = server_factory([("x", "length")])
    ans = VlmClient(srv.url, max_attempts=3).read_page(_png())
    assert ans.text is None and ans.attempts == 3 and "length" in ans.error


def test_many_requests_in_flight(server_factory):
    srv = server_factory([(GOOD, "stop")], delay_s=0.2)
    answers = VlmClient(srv.url, max_in_flight=8).read_pages([_png()] * 8)
    assert all(a.text for a in answers)
    assert srv.max_in_flight >= 4


def test_unreachable_server_fails_the_page_not_the_run():
    ans = VlmClient("http://127.0.0.1:9/v1", max_attempts=2, timeout_s=2).read_page(_png())
    assert ans.text is None and ans.error


def test_vlm_stage_reads_scans_and_falls_back(server_factory, tmp_path):
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(fx.scanned(["Scanned pages need OCR"]))
    digital = tmp_path / "digital.pdf"
    digital.write_bytes(fx.born_digital(1))
    srv = server_factory([(GOOD, "stop")])
    st = OcrVlmStage(vlm_url=srv.url, vlm_model="test-model")
    assert st.resources == {"GPU": 1}
    docs = st.process_file(str(scan)).table.to_pylist()
    assert docs[0]["page_engines"] == ["vlm:test-model"] and docs[0]["text"].startswith("Hello from the model.")
    assert docs[0]["text"].endswith(LATEX)  # LaTeX ($...$, \[...\]) reaches the document untouched
    n_before = len(srv.requests)
    docs = st.process_file(str(digital)).table.to_pylist()
    assert docs[0]["page_engines"] == ["pymupdf"] and len(srv.requests) == n_before  # text layer: no VLM call
    # a server that never answers well: the page fails and the PDF is dropped with a reason
    bad = server_factory([("x", "length")])
    st2 = OcrVlmStage(vlm_url=bad.url, vlm_fallback="none", vlm_attempts=2)
    out = st2.process_file(str(scan))
    assert out.table.num_rows == 0 and out.drops.column("reason").to_pylist() == ["too_many_failed_pages"]
    assert out.counters["vlm_failed_pages"] == 1


def test_gpu_stage_falls_back_to_cpu(tmp_path):
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(fx.scanned(["Scanned pages need OCR"]))
    st = OcrGpuStage()
    assert st.resources == {"GPU": 1}
    out = st.process_file(str(scan))
    doc = out.table.to_pylist()[0]
    assert "scanned" in doc["text"].lower()
    from gristmill.ocr.cpu_ocr import cuda_available

    if not cuda_available():
        assert doc["page_engines"] == ["rapidocr-cpu"] and out.counters["gpu_fallback_pages"] == 1
