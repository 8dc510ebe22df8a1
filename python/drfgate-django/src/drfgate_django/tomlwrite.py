"""The few TOML spellings the export writes: strings, numbers, booleans, arrays, inline tables."""


def string(text):
    out = ['"']
    for char in str(text):
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\t":
            out.append(char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def value(item):
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, (int, float)):
        return repr(item)
    if isinstance(item, str):
        return string(item)
    if isinstance(item, (list, tuple)):
        return "[" + ", ".join(value(v) for v in item) + "]"
    if isinstance(item, dict):
        return "{ " + ", ".join(f"{string(k)} = {value(v)}" for k, v in item.items()) + " }"
    raise TypeError(f"{item!r} has no TOML spelling here")


def array(items, indent="    "):
    """A list one item a line, as people write class lists."""
    if len(items) <= 1:
        return value(list(items))
    return "[\n" + "".join(f"{indent}{value(v)},\n" for v in items) + "]"
