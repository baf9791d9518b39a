"""calculator: arithmetic by walking the expression's syntax tree (``ast``), never ``eval``.

Numbers, + - * / // % ** (and ^ as power), parentheses, a few math functions and constants; names,
attributes, calls of anything else, strings and comprehensions are refused. Powers and factorials are
bounded so no expression can make the server compute for long or fill its memory.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from zhiku.agent.base import ToolContext, ToolError, ToolResult, ToolSpec

MAX_CHARS = 500
MAX_NODES = 200
MAX_BITS = 4096  # an integer result larger than this is refused (a 1233-digit number)

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow, ast.BitXor: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _factorial(n: Any) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0 or n > 500:
        raise ToolError("factorial takes a whole number from 0 to 500")
    return math.factorial(n)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "round": round, "min": min, "max": max, "sqrt": math.sqrt, "cbrt": lambda x: math.copysign(
        abs(x) ** (1 / 3), x), "exp": math.exp, "ln": math.log, "log": math.log, "log10": math.log10,
    "log2": math.log2, "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos,
    "atan": math.atan, "floor": math.floor, "ceil": math.ceil, "factorial": _factorial, "radians": math.radians,
    "degrees": math.degrees, "hypot": math.hypot, "gcd": math.gcd,
}
CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _check_size(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise ToolError("the result is too large")
    if isinstance(value, float) and math.isnan(value):
        raise ToolError("the result is not a number")
    return value


def _power(base: Any, exp: Any) -> Any:
    if isinstance(base, int) and isinstance(exp, int) and exp > 0 and abs(base) > 1:
        if exp * max(1, abs(base).bit_length() - 1) > MAX_BITS:
            raise ToolError("the result is too large")
    if isinstance(exp, (int, float)) and abs(exp) > 10_000 and not (isinstance(base, (int, float)) and abs(base) <= 1):
        raise ToolError("the exponent is too large")
    return base ** exp


def _eval(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, (ast.Pow, ast.BitXor)):
            return _check_size(_power(left, right))
        return _check_size(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name) and node.id.lower() in CONSTANTS:
        return CONSTANTS[node.id.lower()]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.lower() in FUNCTIONS \
            and not node.keywords:
        return _check_size(FUNCTIONS[node.func.id.lower()](*(_eval(a) for a in node.args)))
    if isinstance(node, ast.Name):
        raise ToolError(f"unknown name '{node.id}'; functions: {', '.join(FUNCTIONS)}; constants: pi, e, tau")
    raise ToolError(f"'{ast.unparse(node)}' is not arithmetic the calculator does")


def evaluate(expression: str) -> Any:
    """The value of an arithmetic expression; ``ToolError`` with the reason when it is not one."""
    text = (expression or "").strip().replace("×", "*").replace("÷", "/").replace("−", "-")
    text = text.replace("，", ",").replace("（", "(").replace("）", ")")
    if not text:
        raise ToolError("the expression is empty")
    if len(text) > MAX_CHARS:
        raise ToolError(f"the expression is too long (at most {MAX_CHARS} characters)")
    if text.endswith("%") and text[:-1].replace(".", "", 1).strip().isdigit():
        text = f"({text[:-1]})/100"
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ToolError(f"'{expression}' is not an arithmetic expression") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ToolError("the expression is too complex")
    try:
        value = _eval(tree)
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except OverflowError:
        raise ToolError("the result is too large") from None
    except (ValueError, TypeError) as exc:
        raise ToolError(f"cannot compute {expression}: {exc}") from None
    if isinstance(value, complex):
        raise ToolError("the result is not a real number")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


class Calculator:
    spec = ToolSpec(
        name="calculator",
        description="Evaluate an arithmetic expression exactly: + - * / // % ** (power), parentheses, "
        "functions sqrt, ln, log10, log2, exp, sin, cos, tan, abs, round, min, max, floor, ceil, factorial, "
        "and pi, e. Use it for any arithmetic instead of computing in your head.",
        parameters={"type": "object", "properties": {
            "expression": {"type": "string", "description": "e.g. (1250 * 0.15 + 37) / 3"}},
            "required": ["expression"], "additionalProperties": False},
        timeout_s=5.0,
    )

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        expression = str(arguments.get("expression", ""))
        value = evaluate(expression)
        shown = f"{value:.12g}" if isinstance(value, float) else str(value)
        return ToolResult(text=f"{expression.strip()} = {shown}", summary=f"= {shown}",
                          data={"expression": expression, "value": value})


def calculator(context: ToolContext) -> Calculator:
    return Calculator()
