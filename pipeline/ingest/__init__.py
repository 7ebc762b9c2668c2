"""Crawl ingest: WARC / ARC / WET files to gristmill documents.

Modules, one concern each: `records` (reading WARC/ARC/WET, local or through fsspec),
`charset` (bytes to Unicode), `extract` (HTML main text engines), `langid` (fastText
lid.176), `licenses` (Creative Commons evidence), `optout` (meta/header opt-out signals),
`robots` (robots.txt rules for AI crawlers), `pdf_queue` (PDF responses for OCR),
`crawl` (Common Crawl paths lists) and `stage` (the `ingest@1` source stage).
"""
