"""Documents the browser tests upload: a Chinese Word file and an English PDF, made here."""

from __future__ import annotations

from pathlib import Path

ZH_POLICY = ("入职满一年的员工每年享有十五天带薪年假。年假可以分次休，但每次不少于半天。"
             "未休完的年假可以顺延到下一年的三月底。")
EN_POLICY = ("Refunds are paid within 14 days of receiving the returned item. "
             "Items must be returned in their original packaging.")


def chinese_docx(path: Path) -> Path:
    import docx

    doc = docx.Document()
    doc.add_heading("第三章 休假制度", level=1)
    doc.add_paragraph(ZH_POLICY)
    doc.add_heading("第四章 病假", level=1)
    doc.add_paragraph("员工因病休假需提供医院证明，病假工资按基本工资的百分之八十发放。")
    doc.save(str(path))
    return path


def english_pdf(path: Path) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Helvetica-Bold", 16)
    c.drawString(72, 780, "Customer service handbook")
    c.setFont("Helvetica", 12)
    c.drawString(72, 750, "Contents: returns, refunds, warranty.")
    c.showPage()
    c.setFont("Helvetica-Bold", 14)
    c.drawString(72, 780, "Refund policy")
    c.setFont("Helvetica", 12)
    y = 755
    for sentence in EN_POLICY.split(". "):
        c.drawString(72, y, sentence.rstrip(".") + ".")
        y -= 18
    c.showPage()
    c.save()
    return path
