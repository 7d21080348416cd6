"""The one markdown-table writer of the analysis tools and the benchmarks."""
from typing import Iterable, Optional, Sequence

__all__ = ['markdown_table']


def markdown_table(head: Sequence[str], rows: Iterable[Sequence[object]],
                   right: Optional[Sequence[bool]] = None) -> str:
    """A markdown table: a header line, the separator, a line per row (no final newline).

    Args:
        head: the column titles.
        rows: one sequence of cells per row (already formatted; ``str()`` is applied), each as
            long as ``head``.
        right: per column, whether it is right-aligned (``---:``); default: none is.
    """
    right = [False] * len(head) if right is None else list(right)
    if len(right) != len(head):
        raise ValueError(f'{len(right)} alignments for {len(head)} columns')
    lines = ['| ' + ' | '.join(head) + ' |',
             '| ' + ' | '.join('---:' if r else '---' for r in right) + ' |']
    for i, row in enumerate(rows):
        cells = [str(c) for c in row]
        if len(cells) != len(head):
            raise ValueError(f'row {i} has {len(cells)} cells for {len(head)} columns: {cells}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
