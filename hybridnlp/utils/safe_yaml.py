"""YAML read for configs: the safe loader, bounded aliases, no duplicate keys, one-line errors.

``yaml.safe_load`` builds no Python objects, but it still expands aliases without bound (a
"billion laughs" config of a few hundred bytes becomes gigabytes once copied) and keeps the last
of two equal keys silently. :func:`load_yaml` composes the document first, counts the nodes it
would expand to (each alias counted as the whole subtree it stands for) and the bytes of text
they would hold, and refuses a document past ``max_nodes``, ``MAX_BYTES`` or ``MAX_DEPTH``
before anything is built.
"""

from __future__ import annotations

import yaml

from hybridnlp.exceptions import ConfigError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "load_yaml"]

MAX_NODES = 100_000  # far above any real config (the largest here has a few hundred nodes)
MAX_BYTES = 10_000_000  # text once aliases are expanded: one long string copied by aliases
MAX_DEPTH = 64  # nesting of lists and mappings (the configs here nest 5 deep)


class _Loader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`, overridden by design
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key; the base class reports it
                continue
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line "
                    f"{first.start_mark.line + 1}); give each key once", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root, max_nodes: int, where: str) -> int:
    """Nodes of the document once every alias is replaced by what it names (and the bytes of
    their text, and their depth, each bounded)."""
    sizes: dict[int, tuple[int, int]] = {}
    visiting: set[int] = set()

    def size(node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in visiting:
            raise ConfigError(f"{where}: an alias refers to a node that contains it (line "
                            f"{node.start_mark.line + 1}); a config cannot be recursive.")
        if depth > MAX_DEPTH:
            raise ConfigError(f"{where}: lists and mappings nest more than {MAX_DEPTH} deep "
                            f"(line {node.start_mark.line + 1}); a config is not that deep.")
        visiting.add(key)
        nodes, text = 1, 0
        if isinstance(node, yaml.ScalarNode):
            text = len(node.value)
        children = (node.value if isinstance(node, yaml.SequenceNode) else
                    [n for kv in node.value for n in kv] if isinstance(node, yaml.MappingNode)
                    else [])
        for child in children:
            n, t = size(child, depth + 1)
            nodes, text = nodes + n, text + t
        visiting.discard(key)
        if nodes > max_nodes:
            raise ConfigError(f"{where}: the document expands to more than {max_nodes:,} nodes "
                            f"through its aliases (line {node.start_mark.line + 1}); write the "
                            f"values out or use fewer nested anchors.")
        if text > MAX_BYTES:
            raise ConfigError(f"{where}: the document expands to more than {MAX_BYTES:,} "
                            f"characters of text through its aliases (line "
                            f"{node.start_mark.line + 1}); write the values out or use fewer "
                            f"anchors.")
        sizes[key] = nodes, text
        return nodes, text

    return size(root, 0)[0]


def load_yaml(text: str | bytes, where: str = "config", *, max_nodes: int = MAX_NODES):
    """The value of the YAML document ``text`` (None when it holds nothing); a text that is
    not a config's YAML is a :class:`~hybridnlp.exceptions.ConfigError` naming ``where`` (a
    file name) and the line."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ConfigError(f"{where}: not UTF-8 text (byte {err.start}); save the file as "
                            f"UTF-8.") from None
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _expanded_size(root, max_nodes, where)
        return loader.construct_document(root)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = err.problem or err.context or "invalid YAML"
        if "could not determine a constructor" in problem:
            problem = (f"tag {err.problem.split('tag ', 1)[-1].split()[0]} is not allowed; a "
                       f"config holds plain values (strings, numbers, lists, mappings)")
        raise ConfigError(f"{where}{line}: {problem}.") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{where}: not valid YAML ({err}).") from None
    except RecursionError:  # the composer nests one call per level
        raise ConfigError(f"{where}: lists and mappings nest too deep to read; a config is "
                          f"not that deep.") from None
    finally:
        loader.dispose()
