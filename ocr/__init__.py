"""gristmill.ocr: PDF text layers, per-page OCR routing and OCR backends (issue 4)."""
