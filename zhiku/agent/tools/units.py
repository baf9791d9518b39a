"""unit_convert: a value from one unit to another of the same kind (length, mass, area, volume, time,
speed, data, energy, power, pressure, temperature), Chinese market units (斤, 两, 亩, 里...) included."""

from __future__ import annotations

from typing import Any

from zhiku.agent.base import ToolContext, ToolError, ToolResult, ToolSpec

# kind -> unit -> its size in the kind's base unit (m, kg, m², m³, s, m/s, byte, J, W, Pa)
UNITS: dict[str, dict[str, float]] = {
    "length": {"m": 1, "km": 1e3, "cm": 1e-2, "mm": 1e-3, "um": 1e-6, "nm": 1e-9, "in": 0.0254, "ft": 0.3048,
               "yd": 0.9144, "mi": 1609.344, "nmi": 1852, "li": 500, "zhang": 10 / 3, "chi": 1 / 3, "cun": 1 / 30},
    "mass": {"kg": 1, "g": 1e-3, "mg": 1e-6, "t": 1e3, "lb": 0.45359237, "oz": 0.028349523125, "jin": 0.5,
             "liang": 0.05, "st": 6.35029318},
    "area": {"m2": 1, "km2": 1e6, "cm2": 1e-4, "ha": 1e4, "acre": 4046.8564224, "ft2": 0.09290304,
             "mu": 10000 / 15, "sqmi": 2589988.110336},
    "volume": {"m3": 1, "l": 1e-3, "ml": 1e-6, "cm3": 1e-6, "gal": 0.003785411784, "ukgal": 0.00454609,
               "qt": 0.000946352946, "pt": 0.000473176473, "cup": 0.0002365882365, "floz": 2.95735295625e-5},
    "time": {"s": 1, "ms": 1e-3, "min": 60, "h": 3600, "day": 86400, "week": 604800, "year": 31557600},
    "speed": {"m/s": 1, "km/h": 1 / 3.6, "mph": 0.44704, "kn": 1852 / 3600},
    "data": {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3,
             "tib": 1024 ** 4, "bit": 0.125},
    "energy": {"j": 1, "kj": 1e3, "cal": 4.184, "kcal": 4184, "wh": 3600, "kwh": 3.6e6},
    "power": {"w": 1, "kw": 1e3, "mw": 1e6, "hp": 745.69987158227022},
    "pressure": {"pa": 1, "kpa": 1e3, "mpa": 1e6, "bar": 1e5, "atm": 101325, "psi": 6894.757293168, "mmhg": 133.322387415},
}
ALIASES = {
    "meter": "m", "metre": "m", "meters": "m", "米": "m", "kilometer": "km", "公里": "km", "千米": "km",
    "centimeter": "cm", "厘米": "cm", "millimeter": "mm", "毫米": "mm", "inch": "in", "inches": "in", "英寸": "in",
    "foot": "ft", "feet": "ft", "英尺": "ft", "yard": "yd", "mile": "mi", "miles": "mi", "英里": "mi", "里": "li",
    "丈": "zhang", "尺": "chi", "寸": "cun", "海里": "nmi",
    "kilogram": "kg", "公斤": "kg", "千克": "kg", "gram": "g", "克": "g", "毫克": "mg", "ton": "t", "tonne": "t",
    "吨": "t", "pound": "lb", "pounds": "lb", "lbs": "lb", "磅": "lb", "ounce": "oz", "盎司": "oz", "斤": "jin",
    "两": "liang", "stone": "st",
    "m²": "m2", "sqm": "m2", "平方米": "m2", "km²": "km2", "平方公里": "km2", "hectare": "ha", "公顷": "ha",
    "英亩": "acre", "亩": "mu", "sqft": "ft2", "ft²": "ft2", "平方英尺": "ft2",
    "m³": "m3", "立方米": "m3", "liter": "l", "litre": "l", "升": "l", "milliliter": "ml", "毫升": "ml",
    "gallon": "gal", "加仑": "gal",
    "second": "s", "sec": "s", "秒": "s", "minute": "min", "分钟": "min", "hour": "h", "hr": "h", "小时": "h",
    "days": "day", "d": "day", "天": "day", "weeks": "week", "周": "week", "years": "year", "年": "year",
    "kph": "km/h", "kmh": "km/h", "公里/小时": "km/h", "knot": "kn", "节": "kn", "mps": "m/s",
    "byte": "b", "bytes": "b", "字节": "b", "bits": "bit",
    "joule": "j", "焦耳": "j", "calorie": "cal", "卡": "cal", "千卡": "kcal", "度": "kwh",
    "watt": "w", "瓦": "w", "千瓦": "kw", "horsepower": "hp", "马力": "hp",
    "pascal": "pa", "帕": "pa", "千帕": "kpa", "兆帕": "mpa", "大气压": "atm",
}
TEMPERATURES = {"c": "c", "°c": "c", "celsius": "c", "摄氏度": "c", "f": "f", "°f": "f", "fahrenheit": "f",
                "华氏度": "f", "k": "k", "kelvin": "k", "开尔文": "k"}


def _unit(name: str) -> tuple[str, str]:
    key = name.strip()
    low = ALIASES.get(key, ALIASES.get(key.lower(), key.lower()))
    for kind, units in UNITS.items():
        if low in units:
            return kind, low
    if key.lower() in TEMPERATURES or key in TEMPERATURES:
        return "temperature", TEMPERATURES.get(key.lower(), TEMPERATURES.get(key, ""))
    raise ToolError(f"unknown unit '{name}'")


def _to_kelvin(v: float, unit: str) -> float:
    return {"c": v + 273.15, "f": (v - 32) * 5 / 9 + 273.15, "k": v}[unit]


def _from_kelvin(v: float, unit: str) -> float:
    return {"c": v - 273.15, "f": (v - 273.15) * 9 / 5 + 32, "k": v}[unit]


def convert(value: float, source: str, target: str) -> float:
    kind_a, a = _unit(source)
    kind_b, b = _unit(target)
    if kind_a != kind_b:
        raise ToolError(f"cannot convert {kind_a} ({source}) to {kind_b} ({target})")
    if kind_a == "temperature":
        return _from_kelvin(_to_kelvin(value, a), b)
    return value * UNITS[kind_a][a] / UNITS[kind_a][b]


class UnitConvert:
    spec = ToolSpec(
        name="unit_convert",
        description="Convert a value between units of one kind: length (m, km, mi, ft, in, 里, 尺...), mass (kg, g, "
        "lb, oz, 斤, 两), area (m2, ha, acre, 亩), volume (l, ml, gal), time, speed (km/h, mph, m/s), data (MB, "
        "GiB...), energy (kWh, kcal), power (kW, hp), pressure (bar, psi, atm), temperature (C, F, K).",
        parameters={"type": "object", "properties": {
            "value": {"type": "number"}, "from_unit": {"type": "string"}, "to_unit": {"type": "string"}},
            "required": ["value", "from_unit", "to_unit"], "additionalProperties": False},
        timeout_s=5.0,
    )

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        try:
            value = float(arguments["value"])
        except (KeyError, TypeError, ValueError):
            raise ToolError(f"value must be a number (got {arguments.get('value')!r})") from None
        source, target = str(arguments.get("from_unit", "")), str(arguments.get("to_unit", ""))
        result = convert(value, source, target)
        text = f"{value:g} {source} = {result:.10g} {target}"
        return ToolResult(text=text, summary=text, data={"value": result})


def unit_convert(context: ToolContext) -> UnitConvert:
    return UnitConvert()
