"""Table questions (zhiku.agent table_query): exact answers when the model writes correct SQL, and
refusals when it writes bad SQL.

Generates CSV files (orders) and XLSX workbooks of two sheets (employees, departments; half of them
with Chinese headers and sheet names) with a seeded random generator, adds them to a KB through the
app (static embedder), and asks questions whose answers are computed here in Python from the
generated rows: counts, sums, averages, extremes, filters listing rows, group-bys, and joins of the
two sheets. The "model" is scripted: each question comes with the SQL a model that read the table
listing would write. Measured per question: the answer equals the known one (numbers to 6 decimals,
as money is compared); the rows cited are exactly the rows the question rests on (filters and
filtered aggregates); time per question. Then bad SQL — writes disguised in comments, CTEs, several
statements, PRAGMA/ATTACH, reading sqlite_master, runaway recursion, unknown tables — must be refused,
and every table must still hold its rows afterwards.

    python bench/tables.py [--csv 10 --xlsx 8 --seed 7]
Writes docs/benchmarks/tables.json.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, pct, write_json

from zhiku import Zhiku, load_settings
from zhiku.agent.base import ToolContext, ToolError
from zhiku.agent.tools.tables import TableQuery

REGIONS = ["East", "West", "North", "South", "华东", "华南"]
PRODUCTS = ["tea", "coffee", "cocoa", "绿茶", "milk"]
CITIES = ["Beijing", "Shanghai", "Hangzhou", "深圳", "成都"]
DEPTS = ["R&D", "Sales", "Support", "研发", "市场", "财务"]
NAMES = ["Li", "Wang", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "徐", "孙", "胡", "朱", "高"]

Question = dict[str, Any]  # kind, sql, answer (list of row tuples), rows ({table: [row numbers]} or None)


def money(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value


def same(got: list[list[Any]], want: list[tuple[Any, ...]]) -> bool:
    return [tuple(money(v) for v in row) for row in got] == [tuple(money(v) for v in row) for row in want]


def make_orders(path: Path, rng: random.Random, table: str) -> list[Question]:
    n = rng.randint(60, 150)
    rows = []
    for i in range(1, n + 1):
        rows.append({"row": i + 1, "id": i, "region": rng.choice(REGIONS), "product": rng.choice(PRODUCTS),
                     "qty": rng.randint(1, 40), "price": round(rng.uniform(1, 200), 2),
                     "date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"})
    lines = ["Order,Region,Product,Qty,Price,Date"]
    lines += [f"{r['id']},{r['region']},{r['product']},{r['qty']},{r['price']:.2f},{r['date']}" for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def where(pred: Any) -> list[dict[str, Any]]:
        return [r for r in rows if pred(r)]

    qs: list[Question] = []
    for region in rng.sample(REGIONS, 3):
        m = where(lambda r: r["region"] == region)
        qs.append({"kind": "count", "sql": f"SELECT count(*) FROM {table} WHERE region = '{region}'",
                   "answer": [(len(m),)], "rows": {table: [r["row"] for r in m]}})
    for product in rng.sample(PRODUCTS, 2):
        m = where(lambda r: r["product"] == product)
        qs.append({"kind": "sum", "sql": f"SELECT sum(qty) FROM {table} WHERE product = '{product}'",
                   "answer": [(sum(r["qty"] for r in m) if m else None,)], "rows": {table: [r["row"] for r in m]}})
    region = rng.choice(REGIONS)
    m = where(lambda r: r["region"] == region)
    qs.append({"kind": "average", "sql": f"SELECT avg(price) FROM {table} WHERE region = '{region}'",
               "answer": [(sum(r["price"] for r in m) / len(m) if m else None,)], "rows": {table: [r["row"] for r in m]}})
    qs.append({"kind": "revenue", "sql": f"SELECT sum(qty * price) FROM {table} WHERE region = '{region}'",
               "answer": [(sum(r["qty"] * r["price"] for r in m) if m else None,)],
               "rows": {table: [r["row"] for r in m]}})
    qs.append({"kind": "extreme", "sql": f"SELECT max(price), min(qty) FROM {table}",
               "answer": [(max(r["price"] for r in rows), min(r["qty"] for r in rows))], "rows": None})
    top = sorted(rows, key=lambda r: (-r["price"], r["id"]))[0]
    qs.append({"kind": "top row", "sql": f"SELECT order_ FROM {table} ORDER BY price DESC, order_ LIMIT 1",
               "answer": [(top["id"],)], "rows": {table: [top["row"]]}})
    for threshold in (35, 38):
        m = where(lambda r: r["qty"] > threshold)
        qs.append({"kind": "filter", "sql": f"SELECT order_ FROM {table} WHERE qty > {threshold} ORDER BY order_",
                   "answer": [(r["id"],) for r in m], "rows": {table: [r["row"] for r in m]}})
    m = where(lambda r: "2026-03-01" <= r["date"] <= "2026-05-31")
    qs.append({"kind": "date range",
               "sql": f"SELECT count(*) FROM {table} WHERE date BETWEEN '2026-03-01' AND '2026-05-31'",
               "answer": [(len(m),)], "rows": {table: [r["row"] for r in m]}})
    counts = Counter(r["region"] for r in rows)
    qs.append({"kind": "group by", "sql": f"SELECT region, count(*) FROM {table} GROUP BY region ORDER BY region",
               "answer": sorted(counts.items()), "rows": {table: [r["row"] for r in rows]}})
    product = rng.choice(PRODUCTS)
    m = where(lambda r: r["product"] == product and r["region"] in ("East", "华东"))
    qs.append({"kind": "two conditions",
               "sql": f"SELECT count(*), sum(qty) FROM {table} WHERE product = '{product}' "
                      f"AND region IN ('East', '华东')",
               "answer": [(len(m), sum(r["qty"] for r in m) if m else None)], "rows": {table: [r["row"] for r in m]}})
    return qs


def make_staff(path: Path, rng: random.Random, stem: str, chinese: bool) -> list[Question]:
    from openpyxl import Workbook

    heads = (["姓名", "部门", "工资", "城市"], ["部门", "楼层", "预算"]) if chinese else \
        (["Name", "Dept", "Salary", "City"], ["Dept", "Floor", "Budget"])
    sheets = ("员工", "部门") if chinese else ("Employees", "Depts")
    name_c, dept_c, salary_c, city_c = ("姓名", "部门", "工资", "城市") if chinese else ("name", "dept", "salary", "city")
    floor_c, budget_c = ("楼层", "预算") if chinese else ("floor", "budget")
    emp_t, dep_t = f"{stem}_{sheets[0].lower()}", f"{stem}_{sheets[1].lower()}"
    depts = [{"row": i + 2, "dept": d, "floor": rng.randint(1, 6), "budget": rng.randint(10, 90) * 1000}
             for i, d in enumerate(DEPTS)]
    n = rng.randint(30, 80)
    emps = [{"row": i + 3, "name": f"{rng.choice(NAMES)}{i}", "dept": rng.choice(DEPTS),
             "salary": rng.randint(40, 300) * 100, "city": rng.choice(CITIES)} for i in range(n)]
    wb = Workbook()
    ws = wb.active
    ws.title = sheets[0]
    ws.append(["员工名册 2026" if chinese else "Staff list 2026"])  # a caption line above the header
    ws.append(heads[0])
    for e in emps:
        ws.append([e["name"], e["dept"], e["salary"], e["city"]])
    ds = wb.create_sheet(sheets[1])
    ds.append(heads[1])
    for d in depts:
        ds.append([d["dept"], d["floor"], d["budget"]])
    wb.save(path)
    floor_of = {d["dept"]: d for d in depts}
    qs: list[Question] = []
    for floor in sorted({d["floor"] for d in depts})[:2]:
        m = [e for e in emps if floor_of[e["dept"]]["floor"] == floor]
        ds_ = [d for d in depts if d["floor"] == floor]
        rows = {emp_t: [e["row"] for e in m]}
        if m:
            rows[dep_t] = sorted({floor_of[e["dept"]]["row"] for e in m})
        qs.append({"kind": "join sum",
                   "sql": f"SELECT sum(e.{salary_c}) FROM {emp_t} e JOIN {dep_t} d ON e.{dept_c} = d.{dept_c} "
                          f"WHERE d.{floor_c} = {floor}",
                   "answer": [(sum(e["salary"] for e in m) if m else None,)], "rows": rows if ds_ else None})
    budget = 50_000
    m = [e for e in emps if floor_of[e["dept"]]["budget"] > budget]
    qs.append({"kind": "join count",
               "sql": f"SELECT count(*) FROM {emp_t} e JOIN {dep_t} d ON e.{dept_c} = d.{dept_c} "
                      f"WHERE d.{budget_c} > {budget}",
               "answer": [(len(m),)],
               "rows": {emp_t: [e["row"] for e in m], **({dep_t: sorted({floor_of[e["dept"]]["row"] for e in m})}
                                                        if m else {})}})
    dept = rng.choice([d for d in DEPTS if any(e["dept"] == d for e in emps)])
    best = sorted((e for e in emps if e["dept"] == dept), key=lambda e: (-e["salary"], e["row"]))[0]
    qs.append({"kind": "top row",
               "sql": f"SELECT {name_c} FROM {emp_t} WHERE {dept_c} = '{dept}' ORDER BY {salary_c} DESC, _row LIMIT 1",
               "answer": [(best["name"],)], "rows": {emp_t: [best["row"]]}})
    city = rng.choice(CITIES)
    m = [e for e in emps if e["city"] == city]
    qs.append({"kind": "count", "sql": f"SELECT count(*) FROM {emp_t} WHERE {city_c} = '{city}'",
               "answer": [(len(m),)], "rows": {emp_t: [e["row"] for e in m]}})
    groups: dict[str, list[int]] = defaultdict(list)
    for e in emps:
        groups[e["dept"]].append(e["salary"])
    qs.append({"kind": "group by",
               "sql": f"SELECT {dept_c}, avg({salary_c}) FROM {emp_t} GROUP BY {dept_c} ORDER BY {dept_c}",
               "answer": [(d, sum(v) / len(v)) for d, v in sorted(groups.items())], "rows": None})
    m = [e for e in emps if e["salary"] >= 25_000]
    qs.append({"kind": "filter",
               "sql": f"SELECT {name_c}, {salary_c} FROM {emp_t} WHERE {salary_c} >= 25000 ORDER BY _row",
               "answer": [(e["name"], e["salary"]) for e in m], "rows": {emp_t: [e["row"] for e in m]}})
    m = [e for e in emps if floor_of[e["dept"]]["floor"] >= 3 and e["city"] != city]
    qs.append({"kind": "join filter",
               "sql": f"SELECT e.{name_c}, d.{floor_c} FROM {emp_t} e JOIN {dep_t} d ON e.{dept_c} = d.{dept_c} "
                      f"WHERE d.{floor_c} >= 3 AND e.{city_c} <> '{city}' ORDER BY e._row",
               "answer": [(e["name"], floor_of[e["dept"]]["floor"]) for e in m],
               "rows": {emp_t: [e["row"] for e in m], **({dep_t: sorted({floor_of[e["dept"]]["row"] for e in m})}
                                                        if m else {})}})
    return qs


BAD = [  # (what, SQL with {t} for a table name)
    ("delete", "DELETE FROM {t}"),
    ("update behind a comment", "/* tidy up */ UPDATE {t} SET _row = 0"),
    ("drop behind a line comment", "-- cleanup\nDROP TABLE {t}"),
    ("insert in a CTE", "WITH x AS (SELECT * FROM {t}) INSERT INTO {t} SELECT * FROM x"),
    ("two statements", "SELECT count(*) FROM {t}; DELETE FROM {t}"),
    ("pragma", "PRAGMA query_only = OFF"),
    ("attach", "ATTACH DATABASE '/tmp/zhiku-bench-attached.db' AS other"),
    ("schema read", "SELECT sql FROM sqlite_master"),
    ("temp table", "CREATE TEMP TABLE copy AS SELECT * FROM {t}"),
    ("extension", "SELECT load_extension('/tmp/evil.so')"),
    ("runaway recursion", "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"),
    ("unknown table", "SELECT * FROM {t}_missing"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--csv", type=int, default=10, help="CSV files (15 questions each)")
    ap.add_argument("--xlsx", type=int, default=8, help="XLSX workbooks of two sheets (8 questions each)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="zhiku-bench-tables-") as tmp:
        folder = Path(tmp) / "files"
        folder.mkdir()
        questions: list[Question] = []
        tables: list[str] = []
        for k in range(1, args.csv + 1):
            questions += make_orders(folder / f"orders_{k}.csv", rng, f"orders_{k}")
            tables.append(f"orders_{k}")
        for k in range(1, args.xlsx + 1):
            chinese = k % 2 == 0
            questions += make_staff(folder / f"staff_{k}.xlsx", rng, f"staff_{k}", chinese)
            tables.append(f"staff_{k}_{'员工' if chinese else 'employees'}")
        app = Zhiku(load_settings(home=Path(tmp) / "home", overrides={"embedding": {"default": "static"}}))
        try:
            app.create_kb("tables")
            report = app.add_files("tables", sorted(folder.iterdir()))
            assert not report.failed, report.failed
            context = ToolContext(owner="bench", readable_kbs=["tables"], services=app.agent_services)
            tool = TableQuery(app.agent_services["tables"], row_limit=500, timeout_s=1.0)
            listing = tool.run({}, context)
            by_kind: dict[str, list[bool]] = defaultdict(list)
            cited_ok: list[bool] = []
            times: list[float] = []
            failures: list[dict[str, Any]] = []
            for q in questions:
                t0 = time.perf_counter()
                try:
                    result = tool.run({"sql": q["sql"]}, context)
                except ToolError as exc:
                    by_kind[q["kind"]].append(False)
                    failures.append({"sql": q["sql"], "error": exc.message})
                    continue
                times.append(time.perf_counter() - t0)
                ok = same(result.data["rows"], q["answer"])
                by_kind[q["kind"]].append(ok)
                if not ok:
                    failures.append({"sql": q["sql"], "got": result.data["rows"][:5], "want": q["answer"][:5]})
                if q["rows"] is not None:
                    cited_ok.append(result.data["cited_rows"] == {t: sorted(r) for t, r in q["rows"].items() if r})
            refused: dict[str, int] = Counter()
            let_through: list[str] = []
            stopped_after: list[float] = []
            for what, template in BAD:
                for table in tables:
                    t0 = time.perf_counter()
                    try:
                        tool.run({"sql": template.format(t=table)}, context)
                        let_through.append(template.format(t=table))
                    except ToolError:
                        refused[what] += 1
                    if what == "runaway recursion":
                        stopped_after.append(time.perf_counter() - t0)
            intact = all(tool.run({"sql": f"SELECT count(*) FROM {t}"}, context).data["rows"][0][0] > 0
                         for t in tables) and not Path("/tmp/zhiku-bench-attached.db").exists()
        finally:
            app.close()
    answered = sum(ok for oks in by_kind.values() for ok in oks)
    bad_total = len(BAD) * len(tables)
    payload = {
        "machine": machine(), "seed": args.seed, "files": {"csv": args.csv, "xlsx": args.xlsx},
        "tables": len(listing.data["tables"]), "questions": len(questions),
        "exact": answered, "exact_share": round(answered / len(questions), 4),
        "by_kind": {k: {"questions": len(v), "exact": sum(v)} for k, v in sorted(by_kind.items())},
        "rows_cited_exactly": {"questions": len(cited_ok), "exact": sum(cited_ok)},
        "time_per_question_ms": {"p50": round(pct(times, 50) * 1000, 1), "p95": round(pct(times, 95) * 1000, 1)},
        "bad_sql": {"queries": bad_total, "refused": sum(refused.values()),
                    "by_kind": {what: refused[what] for what, _ in BAD}, "let_through": let_through[:10],
                    "time_limit_s": 1.0, "runaway_stopped_after_s_max": round(max(stopped_after), 3),
                    "tables_intact": intact},
        "failures": failures[:10],
    }
    path = write_json("tables.json", payload)
    print(f"{len(questions)} questions over {payload['tables']} tables: {answered} exact "
          f"({payload['exact_share']:.1%}); rows cited exactly {sum(cited_ok)}/{len(cited_ok)}; "
          f"p50 {payload['time_per_question_ms']['p50']} ms; bad SQL refused {sum(refused.values())}/{bad_total}, "
          f"tables intact: {intact} → {path}")


if __name__ == "__main__":
    main()
