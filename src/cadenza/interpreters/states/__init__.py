"""The States front end: Amazon States Language definitions on Cadenza's history.

Layout, from the engine inwards: a module imports only modules listed after
it, so there is no import cycle (``tests/states/test_import_graph.py`` checks
that, counting imports under ``TYPE_CHECKING`` and inside functions too).

* ``frontend`` — :class:`StatesFrontEnd`: recognizes and compiles ASL JSON,
  and the engine contract of the interpreter (tasks, tokens, context, timers);
* ``validation`` — sub-package: the definition checks, as Step Functions runs
  them at CreateStateMachine and ValidateStateMachineDefinition;
* ``interpreter`` — :class:`StatesInterpreter`: ``decide`` folds input events,
  steps the ready threads and reports the final status; holds the dispatch
  table from a state type to the function doing its work;
* ``simple_states`` — the work of Pass, Wait, Choice, Succeed and Fail (and
  the ends of a Wait and of the machine's ``TimeoutSeconds``);
* ``tasks`` — the work of Task states: resource kinds, ``ScheduleTask``, the
  answers and timeouts, and their history events;
* ``lambda_invoke`` — the ``lambda:invoke`` integration: function ARNs, the
  payload sent and the Invoke response returned;
* ``nested`` — ``states:startExecution``: the child execution to start and
  the task results of its patterns;
* ``mocks`` — Step Functions Local's mock configuration: reading it, and the
  mocked response of each invocation;
* ``concurrency`` — the work of Parallel and Map states: child threads, their
  results, failures and aborts;
* ``input_output`` — the input and output processing every state shares
  (``InputPath``; ``ResultSelector``/``ResultPath``/``OutputPath``/``Output``
  and ``Assign``, then leaving the state);
* ``choice`` — Choice rules: JSONPath comparisons, JSONata conditions;
* ``runtime`` — :class:`Run`, one decision's view of an execution: history
  events, timers, threads, expression environments, leaving a state, Retry
  and Catch of a failure;
* ``state`` — the types of the interpreter state (``ExecutionState``,
  ``Thread``, ...): ``TypedDict`` classes of plain JSON;
* ``definition`` — :class:`Definition`: the machine indexed by scope, each a
  ``StateGraph``;
* ``dataflow`` — ``Env``, what expressions in one state see: JSONPath paths
  and templates, intrinsic functions, JSONata; ``dumps`` and ``iso_time``;
* ``retries`` — which retrier or catcher handles an error, and retry delays;
* ``errors`` — :class:`StateFailure`, a failure with AWS's error name and cause;
* ``history`` — the Step Functions history events recorded as ``sfn`` markers,
  and ``sfn_history`` to read them back.
"""

from __future__ import annotations
