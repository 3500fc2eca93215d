"""Every operator declares its own data flow, and the optimiser relies on nothing else."""
import inspect

from ngdsl.compiler import ops
from ngdsl.compiler.ops import Accumulate, Integrate, MatMul, PhaseOp, Signal, Term


def _classes(base):
    return [c for _, c in inspect.getmembers(ops, inspect.isclass) if issubclass(c, base) and c is not base]


def test_every_phase_operator_and_update_term_declares_its_data_flow():
    # a class that forgets reads/writes (or factors/with_factors) stays abstract: this fails
    assert _classes(PhaseOp) and _classes(Term)
    for cls in _classes(PhaseOp) + _classes(Term):
        assert not inspect.isabstract(cls), f"{cls.__name__} does not declare what it reads and writes"


def test_declared_reads_and_writes():
    x, h = Signal("x", "z"), Signal("h", "in")
    product = Signal("W", "product")
    assert MatMul("W", x, "W", False, "dot", product).reads() == {x}
    assert Accumulate("W", product, h, 1.0, Signal("h", "dphi"), None).reads() == {product, Signal("h", "dphi")}
    step = Integrate("h", 0.1, 0.0)
    assert step.reads() & step.writes() == {Signal("h", "z")}   # a register update: never hoisted


def test_every_operator_and_term_has_an_emitter():
    from ngdsl.compiler.ops import Clear, Outer
    from ngdsl.runtime.codegen import EMITTERS, TERM_EMITTERS, SegmentWriter
    structural = {MatMul, Accumulate, Clear}    # emitted together as sums of products by SegmentWriter.ops
    for cls in _classes(PhaseOp):
        assert cls in structural or hasattr(SegmentWriter, EMITTERS[cls]), cls.__name__
    for cls in _classes(Term):
        assert cls is Outer or hasattr(SegmentWriter, TERM_EMITTERS[cls]), cls.__name__
