"""One keyword list for two verbs: a method that takes another verb's keyword parameters.

``Client.events()`` takes the keywords of ``Client.stream()``, which declares them once, in its
own signature. :func:`keywords_of` gives the method that signature twice over: for type
checkers (through a ``ParamSpec``, only under ``TYPE_CHECKING``: ``typing_extensions`` is never
imported at run time) and for ``help()`` and :func:`inspect.signature` (``__signature__``).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Callable, TypeVar

if TYPE_CHECKING:
    from typing import Protocol

    from typing_extensions import Concatenate, ParamSpec

    P = ParamSpec("P")
    S = TypeVar("S")
    S_contra = TypeVar("S_contra", contravariant=True)

    class Verb(Protocol[S_contra, P]):
        """A method ``(self, handler=None, *, keywords...)``: ``P`` is its keywords."""

        # ``self`` and ``handler`` are named as in the verb, not positional-only: mypy binds
        # ``P`` to a function that has ``**kwargs`` only if the parameters before it match by
        # name too (a keyword could otherwise go to either).
        def __call__(
            _verb, self: S_contra, handler: Any = ..., *args: P.args, **kwargs: P.kwargs
        ) -> Any: ...


R = TypeVar("R")


def keywords_of(
    verb: Verb[S, P],
) -> Callable[[Callable[..., R]], Callable[Concatenate[S, P], R]]:
    """Decorate a method ``(self, **keywords)`` so that it takes ``verb``'s keywords.

    ``verb`` is a method ``(self, handler=None, *, ...)``; the decorated method has its
    parameters without ``handler`` and keeps its own return annotation, for type checkers and
    for ``help()`` alike. At run time the method still receives every keyword in its
    ``**keywords`` (a ``handler=`` among them too: rejecting it is the method's job) and fills in
    the defaults itself.
    """
    verb_parameters = list(inspect.signature(verb).parameters.values())[2:]

    def take(method: Callable[..., R]) -> Callable[Concatenate[S, P], R]:
        own = inspect.signature(method)
        self_parameter = next(iter(own.parameters.values()))
        method.__dict__["__signature__"] = own.replace(
            parameters=[self_parameter, *verb_parameters]
        )
        return method

    return take
