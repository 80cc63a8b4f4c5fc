# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of kubenet.netpol.netpol_resolve: resolve in the controller's own worker.

Resolving is controller work (the playbook runs it once, on localhost). Shipped to localhost as a
module it costs a module payload built and a second Python started and importing the engine from a
zip, for every run: the largest fixed cost of a run that changes nothing. When the task is on the
controller as the user running Ansible, this runs the same task (module_utils/resolve_task.py, the
same options, checks and result) in the worker instead. Everything else goes to the module as
usual: a task on another host, with become, async or a task environment (the module's environment
is not the worker's), or when a library is missing here (a localhost whose
ansible_python_interpreter has it).
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase

from ansible_collections.kubenet.netpol.plugins.module_utils.libraries import missing_libraries


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # unused: nothing is copied to a host
        if not self._runs_here():
            return self._as_module(result, task_vars)
        # Imported here, in the worker: Ansible loads action plugins in its main process too, and every
        # worker is a fork of that process, which the engine would make larger and slower to fork.
        from ansible_collections.kubenet.netpol.plugins.module_utils.resolve_task import (  # pylint: disable=import-outside-toplevel
            OPTION_RULES, ResolveFailure, argument_spec, needed_libraries, resolve)
        validation, params = self.validate_argument_spec(argument_spec(env_fallback), **OPTION_RULES)
        if missing_libraries(needed_libraries(params)):
            return self._as_module(result, task_vars)
        try:
            outcome, warnings = resolve(params)
        except ResolveFailure as exc:
            outcome, warnings = dict(exc.details, failed=True, msg=exc.msg), []
        result.update(outcome)
        result = remove_values(result, validation._no_log_values)
        if warnings:  # as AnsibleModule.warn: the text as written
            result["warnings"] = warnings
        return result

    def _runs_here(self):
        """The module would run on this machine, as this user, in this environment."""
        return (self._connection.transport == "local" and not self._play_context.become
                and not self._task.async_val and not any(self._task.environment or ()))

    def _as_module(self, result, task_vars):
        result.update(self._execute_module(task_vars=task_vars))
        return result
