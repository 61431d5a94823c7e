"""The report page's stylesheet, inlined so the page needs no other file."""

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f4f5f8;color:#1f2430;
 font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.hero{display:flex;justify-content:space-between;align-items:center;gap:32px;
 padding:40px max(24px,calc(50% - 560px)) 28px;background:#fff;border-bottom:1px solid #e3e6ec}
.eyebrow{margin:0;text-transform:uppercase;letter-spacing:.08em;font-size:12px;color:#6b7385}
h1{margin:4px 0 6px;font-size:30px}
.lede{margin:0 0 18px;color:#4a5263;max-width:620px}
.headline{display:flex;flex-direction:column;align-items:center;gap:4px;color:#6b7385}
.gauge{font-size:24px;font-weight:700;fill:#1f2430}
.tiles{display:flex;flex-wrap:wrap;gap:12px}
.tile{background:#f7f8fb;border:1px solid #e3e6ec;border-radius:10px;padding:10px 16px;
 min-width:150px}
.tile span{display:block;font-size:12px;color:#6b7385}
.tile b{font-size:20px}
nav{display:flex;flex-wrap:wrap;gap:10px;padding:14px max(24px,calc(50% - 560px));
 background:#fff;border-bottom:1px solid #e3e6ec;position:sticky;top:0;z-index:1}
nav a{color:#1f2430;text-decoration:none;font-weight:600}
main,footer{padding:0 max(24px,calc(50% - 560px))}
section{background:#fff;border:1px solid #e3e6ec;border-radius:14px;padding:24px;margin:24px 0}
.section-head{display:flex;align-items:center;gap:12px}
h2{margin:0;font-size:22px}
h3{margin:28px 0 10px;font-size:16px;display:flex;align-items:center;gap:16px}
.meta{color:#6b7385;margin:4px 0 12px}
.chip{color:#fff;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:700}
.chip.big{font-size:15px;padding:3px 12px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(400px,1fr));gap:14px}
.card{border:1px solid #e3e6ec;border-radius:10px;padding:12px 14px;background:#fcfcfd}
.card.wide{margin-bottom:14px}
.card-head{display:flex;align-items:center;gap:8px;margin-bottom:8px}
.kind{font-size:11px;color:#56657f;background:#eef1f6;border-radius:6px;padding:0 6px}
.match{margin-left:auto;font-weight:700}
.facts{margin:6px 0 0;font-size:12px;color:#6b7385}
.legend{font-size:12px;font-weight:400;color:#6b7385}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 8px}
svg .label{font-size:11px;fill:#3b4252}
svg .num{font-size:10px;fill:#6b7385}
svg .cell{font-size:9px}
.maps{display:flex;flex-wrap:wrap;gap:18px}
figure{margin:0}
figcaption{text-align:center;color:#6b7385;font-size:12px}
.worst{margin:0;padding-left:18px;color:#3b4252}
.text-body{display:grid;grid-template-columns:380px 1fr 1fr;gap:18px}
.metrics{list-style:none;padding:0;margin:0 0 8px;display:flex;gap:14px}
.samples{margin:0;padding-left:18px}
.samples li{margin-bottom:6px;word-break:break-word}
footer{color:#6b7385;padding-bottom:40px}
@media (max-width:900px){.text-body{grid-template-columns:1fr}.hero{flex-direction:column}}
"""

# Only in an anonymization report: the table of what each column's technique changed.
CHANGES_CSS = """
.changes{width:100%;border-collapse:collapse;font-size:13px}
.changes th{text-align:left;color:#6b7385;font-weight:600;border-bottom:1px solid #e3e6ec;
 padding:6px 8px}
.changes td{border-bottom:1px solid #eef1f6;padding:6px 8px;vertical-align:middle}
.changes .share{position:relative;width:150px}
.changes .share i{position:absolute;left:8px;top:9px;height:10px;max-width:100px;
 background:#e8833a;opacity:.35;border-radius:2px}
.changes .share span{position:relative;padding-left:110px}
.changes .meta{margin:0}
"""
