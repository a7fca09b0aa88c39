"""Reading the generated OpenAPI schema beside a real body: the places where the body's keys are not
exactly the properties its schema names, at every level (used by each app's test_payloads.py)."""


def resolve(schema: dict, node: dict) -> dict:
    """The node itself, with a reference (also one wrapped for nullability) followed."""
    for wrapper in ("allOf", "oneOf", "anyOf"):
        if wrapper in node:
            node = next(part for part in node[wrapper] if part.get("type") != "null")
    if "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def schema_mismatches(schema: dict, node: dict, value, where: str = "") -> list[str]:
    """Every place where the body's keys are not exactly the properties its schema names."""
    if value is None:  # nullable is said beside a reference, or in the type (OpenAPI 3.1)
        types = [node.get("type")] + [part.get("type") for part in node.get("oneOf", []) + node.get("anyOf", [])]
        nullable = node.get("nullable") or "null" in types or resolve(schema, node).get("nullable")
        return [] if nullable else [f"{where}: null, not nullable"]
    node = resolve(schema, node)
    if "properties" in node:
        found = []
        if set(value) != set(node["properties"]):
            found.append(f"{where}: body {sorted(value)} != schema {sorted(node['properties'])}")
        for key in set(value) & set(node["properties"]):
            found += schema_mismatches(schema, node["properties"][key], value[key], f"{where}.{key}")
        return found
    if node.get("type") == "array":
        return [m for index, item in enumerate(value) for m in schema_mismatches(schema, node["items"], item, f"{where}[{index}]")]
    return []


def response_schema(schema: dict, path: str, method: str, status: str) -> dict:
    return schema["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
