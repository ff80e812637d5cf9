"""The proposal's Markdown as a PDF (fpdf2, core fonts): headings, paragraphs, the price
table in a fixed-width font. Deterministic for one version: same Markdown, same bytes."""

import datetime as dt

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _latin(text: str) -> str:
    # The core fonts hold Latin-1 only: what else there is becomes "?" (never an error).
    return text.replace("**", "").encode("latin-1", "replace").decode("latin-1")


def render_pdf(markdown: str, *, title: str, author: str) -> bytes:
    from fpdf import FPDF  # on first use: it brings Pillow and fontTools, never at load

    pdf = FPDF(format="A4")
    pdf.set_creation_date(EPOCH)
    pdf.set_title(_latin(title))
    pdf.set_author(_latin(author))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    for line in markdown.splitlines():
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            pdf.set_font("Helvetica", "B", {1: 18, 2: 14}.get(level, 12))
            pdf.multi_cell(0, 9, _latin(line.lstrip("# ")), new_x="LMARGIN", new_y="NEXT")
        elif line.startswith("|---"):
            continue
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            pdf.set_font("Courier", "", 8)
            pdf.multi_cell(0, 5, _latin("  ".join(cells)), new_x="LMARGIN", new_y="NEXT")
        elif line.strip():
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 6, _latin(line), new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.ln(3)
    return bytes(pdf.output())
