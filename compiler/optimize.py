"""Plan optimisations that hold for every spec: loop-invariant hoisting, common-subexpression
elimination, dead setup work, ordering for loop fusion, and the liveness that tells which values
a step never needs in memory. They only drop, move or annotate operators; the values computed
are unchanged."""
from __future__ import annotations

from .ops import Accumulate, Clear, MatMul


def hoist(step):
    """Split a step's operators into (invariant, varying): invariant ones read only values that no
    step changes (clamped inputs, weights, values computed from them) and move out of the loop."""
    varying_ops, varying = set(), set()
    changed = True
    while changed:
        changed = False
        for i, op in enumerate(step):
            if i in varying_ops:
                continue
            # a register update (it reads what it writes) and an impure operator change every step
            if op.reads() & op.writes() or not op.pure or op.reads() & varying or op.writes() & varying:
                varying_ops.add(i)
                varying |= op.writes()
                changed = True
    return ([op for i, op in enumerate(step) if i not in varying_ops],
            [op for i, op in enumerate(step) if i in varying_ops])


def _units(ops):
    """Group a cleared sum with the cables accumulating into it: they stand or fall together."""
    units, i = [], 0
    while i < len(ops):
        op = ops[i]
        if isinstance(op, Clear):
            j = i + 1
            while j < len(ops) and (isinstance(ops[j], MatMul) or
                                    (isinstance(ops[j], Accumulate) and ops[j].target == op.target)):
                j += 1
            units.append(tuple(ops[i:j]))
            i = j
        else:
            units.append((op,))
            i += 1
    return units


def eliminate_common(*blocks):
    """Drop operator groups that recompute a value still held (same operators, same input versions;
    never a group that draws random numbers).

    The blocks run one after another; each is returned with its redundant groups removed."""
    version, made, counter, result = {}, {}, 0, []
    for ops in blocks:
        out = []
        for unit in _units(list(ops)):
            written = set().union(*(op.writes() for op in unit))
            internal = {op.out for op in unit if isinstance(op, MatMul)}
            inputs = set().union(*(op.reads() for op in unit)) - internal
            key = (unit, tuple(sorted((str(s), version.get(s, 0)) for s in inputs)))
            pure = all(op.pure for op in unit)   # a draw repeated is a new draw, never the value held
            if pure and key in made and all(version.get(s, 0) == v for s, v in made[key].items()):
                continue
            out += unit
            for s in written:
                counter += 1
                version[s] = counter
            made[key] = {s: version[s] for s in written}
        result.append(out)
    return result


def _depends(earlier, later):
    """Whether ``later`` must stay after ``earlier`` (a read or write of what the other writes)."""
    def touched(op):
        extra = {op.target} if isinstance(op, Accumulate) else set()  # accumulating reads the sum
        return op.reads() | extra
    w1, w2 = earlier.writes(), later.writes()
    return bool(w1 & (touched(later) | w2) or touched(earlier) & w2)


def order_for_fusion(ops, width):
    """Reorder operators, within their dependencies, so that elementwise operators over signals of
    the same width stand next to each other (the code generator fuses neighbours into one loop).

    ``width(op)`` is the row width of an elementwise operator, or None for anything else. A Clear
    stays directly before the first cable into its sum, which then writes instead of adding."""
    attached, pending = {}, {}   # index of a cable -> the Clear that travels with it
    for i, op in enumerate(ops):
        if isinstance(op, Clear):
            pending[op.target] = i
        elif isinstance(op, Accumulate) and op.target in pending:
            attached[i] = pending.pop(op.target)
    moved = set(attached.values())
    kept = [i for i in range(len(ops)) if i not in moved]
    clears = {k: ops[attached[i]] for k, i in enumerate(kept) if i in attached}
    ops = [ops[i] for i in kept]
    deps = [{i for i in range(j) if _depends(ops[i], ops[j])} for j in range(len(ops))]
    done, out, last = set(), [], None
    while len(done) < len(ops):
        ready = [j for j in range(len(ops)) if j not in done and deps[j] <= done]
        follow = [j for j in ready if last is not None and isinstance(ops[j], Accumulate)
                  and isinstance(ops[last], MatMul) and ops[j].value == ops[last].out]
        same = [j for j in ready if last is not None and width(ops[j]) is not None
                and width(ops[j]) == width(ops[last])]
        # Products go as early as they can: elementwise work waiting behind them then meets the
        # elementwise work that needs them, in one loop.
        products = [j for j in ready if isinstance(ops[j], MatMul)]
        pick = (follow or same or products or ready)[0]
        done.add(pick)
        op = ops[pick]
        consumer = next((j for j in clears if isinstance(op, MatMul) and ops[j].value == op.out), None)
        for j in (pick, consumer):  # a product's cleared sum is cleared before it, so it can write there
            if j in clears:
                out.append(clears.pop(j))
        out.append(op)
        last = pick
    return out


def _exposed_reads(ops):
    """Signals the operators read before writing them (their value comes from before the list)."""
    exposed, written = set(), set()
    for op in ops:
        exposed |= (op.reads() | ({op.target} if isinstance(op, Accumulate) else set())) - written
        written |= op.writes()
    return exposed


def drop_dead_setup(setup, hoisted, step, settle):
    """Remove setup operators whose results every path overwrites before reading: the loop may run
    zero or more times, and whatever follows the phase may read anything the phase leaves."""
    overwritten = set().union(*(op.writes() for op in list(hoisted) + list(settle)))
    dead = overwritten - _exposed_reads(list(hoisted) + list(step)) - _exposed_reads(list(hoisted) + list(settle))
    kept = []
    for op in reversed(setup):
        if op.writes() and op.writes() <= dead:
            continue
        partial = {op.target} if isinstance(op, Accumulate) else set()
        dead = (dead | (op.writes() - partial)) - op.reads() - partial
        kept.append(op)
    return kept[::-1]


def _live_before(ops, live):
    """Signals live before ``ops`` given those live after them (every operator writes whole arrays)."""
    for op in reversed(list(ops)):
        partial = {op.target} if isinstance(op, Accumulate) else set()  # adds to what is there
        live = (live - (op.writes() - partial)) | op.reads() | partial
    return live


def _after_loop(phase):
    """What a phase runs once its steps are done."""
    return list(phase.settle) + ([phase.store] if phase.store else [])


def _phase_reads(phase):
    """Signals a phase may read before writing them, whether its loop runs or not."""
    head = list(phase.setup) + list(phase.hoisted)
    return _exposed_reads(head + list(phase.step) + _after_loop(phase)) | _exposed_reads(head + _after_loop(phase))


def step_scratch(routines, factor_signals):
    """Per (routine, segment, phase index): the signals a phase's step writes whose values no later
    operator reads before overwriting them: not the next step, not the settled sweep, nor a later
    phase, update or trial (of any routine: they share buffers), nor the routine's readout.

    A step need not store such a value in memory when it also consumes it in the same loop.
    ``factor_signals(update)`` gives the signals an update's terms read."""
    # When a routine returns, the next trial of any routine, an update or a readout may read
    # anything some phase reads before writing it.
    live_at_exit = set()
    for routine in routines.values():
        for segment in routine.segments:
            for phase in segment.phases:
                live_at_exit |= _phase_reads(phase) | ({phase.read} if phase.read else set())
            for up in segment.updates:
                live_at_exit |= set(factor_signals(up))
    scratch = {}
    for name, routine in routines.items():
        live = set(live_at_exit)
        for s_index in reversed(range(len(routine.segments))):
            segment = routine.segments[s_index]
            for up in segment.updates:
                live |= set(factor_signals(up))
            for p_index in reversed(range(len(segment.phases))):
                phase = segment.phases[p_index]
                if phase.read:
                    live = live | {phase.read}
                for up, _ in phase.accumulate:   # read once the phase has settled
                    live = live | set(factor_signals(up))
                after_loop = _live_before(_after_loop(phase), live)
                head = set(after_loop)
                while True:  # the end of a step is followed by another step or by the settled sweep
                    grown = after_loop | _live_before(phase.step, head)
                    if grown == head:
                        break
                    head = grown
                written = set().union(*(op.writes() for op in phase.step)) if phase.step else set()
                scratch[(name, s_index, p_index)] = frozenset(written - head)
                live = _live_before(list(phase.setup) + list(phase.hoisted), head)
    return scratch
