"""The FHIR R4 invariants of what the service emits, checked the way the official validator does.

``fhir.resources`` checks structure, cardinality and primitive formats, not the invariants
(``constraint`` of the StructureDefinitions: ait-1, ele-1, txt-1, bdl-7 ...). This checker walks
a resource, and every contained or bundled resource and every nested element of the types in
``data/r4-invariants.json`` (extracted from the official R4 4.0.1 package, see
``data/SOURCES.md``), and evaluates each constraint with ``fhirpathpy`` at its context node
(``%resource`` and ``%rootResource`` set as the validator sets them). Each expression is
compiled once per process. A constraint holds only when it evaluates to ``true``: ``false`` and
an empty result are violations, as in the validator (whose ``startsWith()`` gives false, not
empty, on an empty input: supplied here too, so ref-1 holds for a reference by identifier).

``check(resource)`` returns a ``Report``: ``errors`` (constraints of severity ``error`` that do
not hold, plus JSON and element-name problems the validator reports as errors too) and
``warnings`` (severity ``warning``), each a ``Violation``; ``evaluated`` counts the evaluations
per key, so a test can tell that a constraint was reached at all.

What the validator has that an expression alone cannot give, and how it is handled here
(``NATIVE``): ``htmlChecks()`` (txt-1, txt-2) is implemented below after the narrative rules
of the spec (section 2.4 Narrative) and the allowed elements and attributes of the official
validator; ``hasValue()``, missing from fhirpathpy, is supplied; ele-1 on a primitive
(fhirpathpy does not count a primitive's extensions as its children) and the constraints in
``NATIVE`` (dom-3, per-1, mdd-1, rng-2) are evaluated in Python because of fhirpathpy's limits,
each with its reason.
A constraint whose expression needs ``resolve()``, ``conformsTo()`` or ``memberOf()`` would be
listed in ``SKIPPED`` with its reason; the types extracted today have none, and loading fails
(fail closed) if one appears without a decision. Where fhirpathpy cannot evaluate an
expression, the failure is reported as an error of that key, never passed over.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

DATA = Path(__file__).with_name("data") / "r4-invariants.json"
XHTML_NS = "http://www.w3.org/1999/xhtml"

#: Constraints evaluated in Python instead of with their FHIRPath expression, and why.
NATIVE: dict[str, str] = {
    "txt-1": "htmlChecks() is a validator function, not FHIRPath: the narrative rules are "
             "implemented (_html_problems)",
    "txt-2": "htmlChecks(): the narrative has some non-whitespace content (text or an image)",
    "dom-3": "fhirpathpy refuses `as(canonical)` on a collection, which the expression applies "
             "to descendants(): every contained resource must be referred to as '#id' from "
             "elsewhere in its container, or refer to the container with '#'",
    "per-1": "fhirpathpy compares dateTimes with different UTC offsets as text: start and end "
             "are compared as instants (at the precision both have)",
    "mdd-1": "the same dateTime comparison as per-1 (whenHandedOver >= whenPrepared)",
    "rng-2": "fhirpathpy cannot compare two Quantities (TypeError): low <= high is compared "
             "when both have a value in the same unit (system and code, else unit text); "
             "quantities in different units are not converted (UCUM) and pass",
}
#: Constraints not evaluated at all, and why (fail closed: an unknown one stops the loading).
#: None today: no R4 constraint of the extracted types calls resolve(), conformsTo() or
#: memberOf() (those live in profiles, e.g. IPS, which are not checked here); the only
#: validator function they use, htmlChecks(), is NATIVE.
SKIPPED: dict[str, str] = {}
_UNEVALUABLE = ("resolve()", "conformsTo(", "memberOf(", "htmlChecks(")

# --- the narrative XHTML (txt-1): the elements and attributes the official validator allows --
HTML_ELEMENTS = frozenset((
    "p", "br", "div", "h1", "h2", "h3", "h4", "h5", "h6", "a", "span", "b", "em", "i", "strong",
    "small", "big", "tt", "dfn", "q", "var", "abbr", "acronym", "cite", "blockquote", "hr",
    "address", "bdo", "kbd", "sub", "sup", "ul", "ol", "li", "dl", "dt", "dd", "pre", "table",
    "caption", "colgroup", "col", "thead", "tr", "tfoot", "tbody", "th", "td", "code", "samp",
    "img", "map", "area"))
HTML_ATTRIBUTES = frozenset((
    "title", "style", "class", "id", "lang", "xml:lang", "dir", "accesskey", "tabindex",
    "span", "width", "align", "valign", "char", "charoff", "abbr", "axis", "headers", "scope",
    "rowspan", "colspan"))
HTML_ELEMENT_ATTRIBUTES = frozenset((
    "a.href", "a.name", "img.src", "img.border", "div.xmlns", "blockquote.cite", "q.cite",
    "a.charset", "a.type", "a.hreflang", "a.rel", "a.rev", "a.shape", "a.coords", "img.alt",
    "img.longdesc", "img.height", "img.width", "img.usemap", "img.ismap", "map.name",
    "area.shape", "area.coords", "area.href", "area.nohref", "area.alt", "table.summary",
    "table.width", "table.border", "table.frame", "table.rules", "table.cellspacing",
    "table.cellpadding", "pre.space", "td.nowrap"))
_BLOCK = frozenset(("div", "blockquote", "table", "ol", "ul", "p"))
_ONLY_CHILDREN = {
    "table": frozenset(("tbody", "tr", "caption", "thead", "tfoot", "col", "colgroup")),
    "thead": frozenset(("tr",)), "tbody": frozenset(("tr",)), "tfoot": frozenset(("tr",)),
    "tr": frozenset(("td", "th")), "ul": frozenset(("li",)), "ol": frozenset(("li",)),
    "dl": frozenset(("dt", "dd")), "map": frozenset(("area",)),
}
_NO_CHILDREN = frozenset(("br", "hr", "img", "area"))
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True)
class Violation:
    """One constraint that does not hold at one node."""

    resource_type: str
    path: str  # the FHIR path of the node, e.g. Bundle.entry[3].resource.reaction[0]
    key: str  # the constraint key (ait-1), or "json" / "element" for structure problems
    severity: str
    text: str  # the constraint's human text
    detail: str = ""

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.resource_type} {self.key} at {self.path}: {self.text}{extra}"


@dataclass
class Report:
    """The violations found in one resource (with everything inside it)."""

    errors: list[Violation] = field(default_factory=list)
    warnings: list[Violation] = field(default_factory=list)
    evaluated: Counter[str] = field(default_factory=Counter)

    def keys(self, severity: str = "error") -> set[tuple[str, str]]:
        """The (resourceType, key) pairs of the errors (or warnings) found."""
        found = self.errors if severity == "error" else self.warnings
        return {(v.resource_type, v.key) for v in found}


# --- the extracted definitions ----------------------------------------------------------------
@dataclass(frozen=True)
class _Child:
    path: str  # the element's path in its StructureDefinition
    type: str  # the type code of this child (choice resolved)
    profile: str | None  # a datatype profile (SimpleQuantity ...)
    constraints: tuple[str, ...]
    inline: bool  # a BackboneElement / Element defined inside the StructureDefinition


class _Definitions:
    def __init__(self, constraints: dict[str, dict[str, Any]],
                 types: dict[str, dict[str, Any]]) -> None:
        self.constraints = constraints
        self.types = types
        self._children: dict[tuple[str, str], dict[str, _Child]] = {}

    def root(self, name: str) -> str:
        return next(iter(self.types[name]["elements"]))

    def is_resource(self, name: str) -> bool:
        return self.types.get(name, {}).get("kind") == "resource"

    def is_primitive(self, name: str) -> bool:
        return self.types.get(name, {}).get("kind") == "primitive-type" or name == "xhtml" \
            or name.startswith("http://hl7.org/fhirpath/System.")

    def children(self, sd: str, path: str) -> dict[str, _Child]:
        """The JSON names of the children of ``path`` in ``sd``, choice elements expanded."""
        if (sd, path) not in self._children:
            self._children[sd, path] = self._find_children(sd, path)
        return self._children[sd, path]

    def _find_children(self, sd: str, path: str) -> dict[str, _Child]:
        elements = self.types[sd]["elements"]
        out: dict[str, _Child] = {}
        prefix = path + "."
        for child_path, el in elements.items():
            if not child_path.startswith(prefix) or "." in child_path[len(prefix):]:
                continue
            if "contentReference" in el:
                target = el["contentReference"]
                ref_el = elements[target]
                out[child_path[len(prefix):]] = _Child(
                    target, ref_el["types"][0]["code"], None,
                    tuple(el.get("constraints", ())), True)
                continue
            inline = any(p.startswith(child_path + ".") for p in elements)
            name = child_path[len(prefix):]
            for t in el.get("types", ()):
                profile = (t.get("profile") or [None])[0]
                if name.endswith("[x]"):
                    json_name = name[:-3] + t["code"][0].upper() + t["code"][1:]
                else:
                    json_name = name
                out[json_name] = _Child(child_path, t["code"], profile,
                                        tuple(el.get("constraints", ())),
                                        inline and t["code"] in ("BackboneElement", "Element"))
        return out


@cache
def definitions() -> _Definitions:
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    return _Definitions(raw["constraints"], raw["types"])


def _has_value(inputs: list[Any]) -> bool:
    return len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], dict | list)


def _starts_with(inputs: list[Any], prefix: Any) -> bool:
    """startsWith() as the official validator has it: false (not empty) on an empty input, so
    ref-1 holds for a reference by identifier or display only."""
    return len(inputs) == 1 and isinstance(inputs[0], str) and isinstance(prefix, str) \
        and bool(prefix) and inputs[0].startswith(prefix)


_OPTIONS = {"userInvocationTable": {"hasValue": {"fn": _has_value, "arity": {0: []}},
                                    "startsWith": {"fn": _starts_with,
                                                   "arity": {1: ["String"]}}},
            "traceFn": lambda *_: None}


@cache
def _compiled() -> dict[str, Callable[..., list[Any]]]:
    """Every constraint's expression compiled once (the native and skipped ones excepted)."""
    return compile_all(definitions().constraints)


def compile_all(constraints: dict[str, dict[str, Any]]) -> dict[str, Callable[..., list[Any]]]:
    """The expressions compiled, keyed by constraint.

    Raises:
        RuntimeError: an expression needs a function no test can evaluate (``resolve()``,
            ``conformsTo()``, ``memberOf()``, ``htmlChecks()``) and is in neither ``NATIVE``
            nor ``SKIPPED``.
    """
    out: dict[str, Callable[..., list[Any]]] = {}
    for key, c in constraints.items():
        if key in NATIVE or key in SKIPPED:
            continue
        if any(f in c["expression"] for f in _UNEVALUABLE):
            raise RuntimeError(f"{key} needs {c['expression']!r}: decide NATIVE or SKIPPED")
        out[key] = fhirpathpy.compile(c["expression"], models["r4"], _OPTIONS)
    return out


# --- the walk ---------------------------------------------------------------------------------
class _Walk:
    def __init__(self, report: Report) -> None:
        self.defs = definitions()
        self.compiled = _compiled()
        self.report = report

    def add(self, rtype: str, path: str, key: str, severity: str, text: str,
            detail: str = "") -> None:
        v = Violation(rtype, path, key, severity, text, detail)
        (self.report.errors if severity == "error" else self.report.warnings).append(v)

    def resource(self, data: Any, path: str, root: dict[str, Any] | None) -> None:
        rtype = data.get("resourceType") if isinstance(data, dict) else None
        if not isinstance(rtype, str) or not self.defs.is_resource(rtype):
            self.add(str(rtype), path, "element", "error",
                     "a resource of a type this checker has the definitions of",
                     f"resourceType {rtype!r}")
            return
        env = {"resource": data, "rootResource": root if root is not None else data}
        self.element(data, None, rtype, rtype, rtype, path, env, rtype, set())

    def element(self, data: Any, ext: Any, sd: str, el_path: str, node_type: str,
                path: str, env: dict[str, Any], rtype: str, done: set[str]) -> None:
        """``data`` at ``el_path`` of ``sd``: its constraints, then its children."""
        el = self.defs.types[sd]["elements"][el_path]
        self.evaluate(el.get("constraints", ()), data, node_type, path, env, rtype, done)
        if not isinstance(data, dict):
            return
        children = self.defs.children(sd, el_path)
        for name, value in data.items():
            if name == "resourceType" and el_path == sd and self.defs.is_resource(sd):
                continue
            base = name[1:] if name.startswith("_") else name
            child = children.get(base)
            if child is None:
                self.add(rtype, f"{path}.{name}", "element", "error",
                         f"an element that {el_path} has", f"unknown element {name!r}")
                continue
            if name.startswith("_"):
                if base in data:
                    continue  # walked with its value
                value, ext_value = None, value
            else:
                ext_value = data.get("_" + name)
            self.value(value, ext_value, sd, child, f"{path}.{base}", env, rtype)

    def value(self, value: Any, ext: Any, sd: str, child: _Child, path: str,
              env: dict[str, Any], rtype: str) -> None:
        if isinstance(value, list) or isinstance(ext, list):
            values = value if isinstance(value, list) else [None] * len(ext)
            exts = ext if isinstance(ext, list) else [None] * len(values)
            if not values:
                self.add(rtype, path, "json", "error", "an array is never empty")
            for i, (v, x) in enumerate(zip(values, exts, strict=False)):
                self.one(v, x, sd, child, f"{path}[{i}]", env, rtype)
        else:
            self.one(value, ext, sd, child, path, env, rtype)

    def one(self, value: Any, ext: Any, sd: str, child: _Child, path: str,
            env: dict[str, Any], rtype: str) -> None:
        if value is None and ext is None:
            self.add(rtype, path, "json", "error", "a property has a value (not null)")
            return
        if self.defs.is_resource(child.type) or child.type == "Resource":
            self.evaluate(child.constraints, value, child.type, path, env, rtype, set())
            contained = child.path.endswith(".contained")
            self.resource(value, path, env["rootResource"] if contained else None)
            return
        if self.defs.is_primitive(child.type):
            if value == "":
                self.add(rtype, path, "json", "error", "a string is never empty")
            self.primitive(value, ext, child, path, env, rtype)
            return
        done: set[str] = set()
        if child.inline:
            self.element(value, None, sd, child.path, child.path, path, env, rtype, done)
            return
        self.evaluate(child.constraints, value, child.type, path, env, rtype, done)
        target = child.profile or child.type
        if target not in self.defs.types:
            self.add(rtype, path, "element", "error", "a datatype this checker knows",
                     f"type {target!r}")
            return
        self.element(value, None, target, self.defs.root(target), child.type, path, env,
                     rtype, done)

    def primitive(self, value: Any, ext: Any, child: _Child, path: str,
                  env: dict[str, Any], rtype: str) -> None:
        for key in child.constraints:
            c = self.defs.constraints[key]
            self.report.evaluated[key] += 1
            if key == "ele-1":  # hasValue() or an extension (fhirpathpy omits those children)
                ok = value is not None or bool(isinstance(ext, dict) and ext.get("extension"))
                if not ok:
                    self.add(rtype, path, key, c["severity"], c["human"])
            elif key in ("txt-1", "txt-2"):
                for problem in _html_problems(key, value):
                    self.add(rtype, path, key, c["severity"], c["human"], problem)
            else:
                node = ResourceNode.create_node(value, child.type, ext)
                self.run(key, node, path, env, rtype)
        if isinstance(ext, dict):
            for name in ext:
                if name not in ("id", "extension"):
                    self.add(rtype, f"{path}(_)", "element", "error",
                             "only id and extension on a primitive", f"unknown {name!r}")
            exts = ext.get("extension") or []
            ext_child = _Child("Extension", "Extension", None, ("ele-1", "ext-1"), False)
            for i, e in enumerate(exts if isinstance(exts, list) else [exts]):
                self.one(e, None, "Extension", ext_child, f"{path}.extension[{i}]", env, rtype)

    def evaluate(self, keys: Any, data: Any, node_type: str, path: str,
                 env: dict[str, Any], rtype: str, done: set[str]) -> None:
        for key in keys:
            if key in done or key in SKIPPED:
                continue
            done.add(key)
            self.report.evaluated[key] += 1
            c = self.defs.constraints[key]
            if key == "dom-3":
                for problem in _dom3_problems(data):
                    self.add(rtype, path, key, c["severity"], c["human"], problem)
            elif key in ("per-1", "mdd-1"):
                first, last = ("start", "end") if key == "per-1" else ("whenPrepared",
                                                                       "whenHandedOver")
                if isinstance(data, dict) and not _ordered(data.get(first), data.get(last)):
                    self.add(rtype, path, key, c["severity"], c["human"],
                             f"{first} {data.get(first)!r} > {last} {data.get(last)!r}")
            elif key == "rng-2":
                if isinstance(data, dict) and not _range_ordered(data.get("low"),
                                                                 data.get("high")):
                    self.add(rtype, path, key, c["severity"], c["human"],
                             f"low {data.get('low')!r} > high {data.get('high')!r}")
            elif key in NATIVE:
                raise RuntimeError(f"{key} is native but not handled at {path}")
            else:
                self.run(key, ResourceNode.create_node(data, node_type), path, env, rtype)

    def run(self, key: str, node: Any, path: str, env: dict[str, Any], rtype: str) -> None:
        c = self.defs.constraints[key]
        try:
            result = self.compiled[key](node, env)
        except Exception as exc:  # noqa: BLE001 - reported, never passed over
            self.add(rtype, path, key, "error", c["human"], f"could not evaluate: {exc!r}")
            return
        if result in ([False], []):  # the validator takes an empty result as false
            self.add(rtype, path, key, c["severity"], c["human"],
                     f"{c['expression']} is {'false' if result else 'empty'}")
        elif result != [True]:
            self.add(rtype, path, key, "error", c["human"], f"not a boolean: {result!r}")


def check(resource: dict[str, Any]) -> Report:
    """Every invariant of ``resource`` and of everything inside it."""
    report = Report()
    _Walk(report).resource(resource, str(resource.get("resourceType")), None)
    return report


# --- the native checks ------------------------------------------------------------------------
def _html_problems(key: str, div: Any) -> list[str]:
    """txt-1: the narrative XHTML rules; txt-2: some non-whitespace content."""
    if not isinstance(div, str):
        return ["the narrative div is a string of XHTML"]
    if re.search(r"<!DOCTYPE|<\?", div, re.IGNORECASE):
        return ["no DOCTYPE or processing instruction"] if key == "txt-1" else []
    try:
        root = ET.fromstring(div)
    except ET.ParseError as exc:
        return [f"well-formed XML: {exc}"] if key == "txt-1" else []
    if key == "txt-2":
        text = "".join(root.itertext())
        has_image = any(_local(e.tag) == "img" for e in root.iter())
        return [] if text.strip() or has_image else ["the narrative has no content"]
    problems: list[str] = []
    if root.tag != f"{{{XHTML_NS}}}div":
        problems.append(f"the root is an XHTML div, not {root.tag}")

    def walk(e: ET.Element, in_para: bool) -> None:
        for c in e:
            if not isinstance(c.tag, str):
                continue
            name = _local(c.tag)
            if not c.tag.startswith(f"{{{XHTML_NS}}}"):
                problems.append(f"element {c.tag} is not in the XHTML namespace")
            if name not in HTML_ELEMENTS:
                problems.append(f"element <{name}> is not allowed")
            for attr, value in c.attrib.items():
                a = "xml:lang" if attr == _XML_LANG else attr
                if not (a in HTML_ATTRIBUTES or f"{name}.{a}" in HTML_ELEMENT_ATTRIBUTES):
                    problems.append(f"attribute {a} is not allowed on <{name}>")
                if a in ("href", "src") and re.match(r"\s*(javascript|vbscript):", value, re.I):
                    problems.append(f"<{name} {a}> holds script")
                if name == "img" and a == "src" and not re.match(r"(#|https?:|data:)", value):
                    problems.append(f"<img src={value!r}> is not local or http(s)")
            if in_para and name in _BLOCK:
                problems.append(f"block <{name}> inside a paragraph")
            allowed = _ONLY_CHILDREN.get(name)
            if allowed is not None:
                bad = [_local(x.tag) for x in c if isinstance(x.tag, str)
                       and _local(x.tag) not in allowed]
                if (c.text or "").strip() or any((x.tail or "").strip() for x in c):
                    bad.append("text")
                if bad:
                    problems.append(f"<{name}> cannot hold {', '.join(bad)}")
            if name in _NO_CHILDREN and (len(c) or (c.text or "").strip()):
                problems.append(f"<{name}> has no content")
            walk(c, in_para or name == "p")

    for attr in root.attrib:
        a = "xml:lang" if attr == _XML_LANG else attr
        if not (a in HTML_ATTRIBUTES or f"div.{a}" in HTML_ELEMENT_ATTRIBUTES):
            problems.append(f"attribute {a} is not allowed on <div>")
    walk(root, False)
    return problems


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _strings(data: Any, skip: Any = None) -> Iterator[str]:
    if data is skip:
        return
    if isinstance(data, dict):
        for v in data.values():
            yield from _strings(v, skip)
    elif isinstance(data, list):
        for v in data:
            yield from _strings(v, skip)
    elif isinstance(data, str):
        yield data


def _dom3_problems(resource: Any) -> list[str]:
    """dom-3: each contained resource is referred to from elsewhere in its container (as
    ``#id``), or refers to the container (``#``)."""
    if not isinstance(resource, dict):
        return []
    problems = []
    for c in resource.get("contained") or []:
        if not isinstance(c, dict):
            continue
        ref = "#" + str(c.get("id", ""))
        outside = any(s == ref for s in _strings({k: v for k, v in resource.items()
                                                   if k != "contained"}))
        sibling = any(s == ref for other in resource["contained"] if other is not c
                      for s in _strings(other))
        to_container = any(s == "#" for s in _strings(c))
        if not (outside or sibling or to_container):
            problems.append(f"contained {ref} is referred to from nowhere")
    return problems


_DT = re.compile(r"^(\d{4})(-\d{2})?(-\d{2})?(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$")


def _ordered(start: Any, end: Any) -> bool:
    """per-1, mdd-1: start <= end, as instants when both have a time, else at the shorter
    precision (the same prefix counts as ordered)."""
    if not isinstance(start, str) or not isinstance(end, str):
        return True
    if not _DT.match(start) or not _DT.match(end):
        return False
    if "T" in start and "T" in end:
        return datetime.fromisoformat(start.replace("Z", "+00:00")) <= \
            datetime.fromisoformat(end.replace("Z", "+00:00"))
    n = min(len(start.split("T")[0]), len(end.split("T")[0]))
    return start[:n] <= end[:n]


def _range_ordered(low: Any, high: Any) -> bool:
    """rng-2: low <= high when both are values in the same unit."""
    if not isinstance(low, dict) or not isinstance(high, dict):
        return True
    a, b = low.get("value"), high.get("value")
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return True
    same = ((low.get("system"), low.get("code")) == (high.get("system"), high.get("code"))
            if low.get("code") or high.get("code") else low.get("unit") == high.get("unit"))
    return not same or a <= b
