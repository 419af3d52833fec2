"""The hook system itself: what every model with hook points runs on.

=====================  ===================================================================
module                 owns
=====================  ===================================================================
``hook_point``         :class:`HookPoint`: the identity module, its dispatch mode, its hooks
``handles``            :class:`LensHandle`: one registered hook, removable on its own
``root``               :class:`HookedRootModule`: ``run_with_hooks``, ``run_with_cache``, ``hooks()``
``scopes``             which thread or asyncio task sees which hooks
``cache``              :class:`ActivationCache`: what ``run_with_cache`` returns
``slicing``            :class:`Slice`: ``pos_slice`` and the position dimension of a point
``names``              names filters, and display names of hooks
``introspection``      ``list_hooks()`` for anything with a ``hook_dict``
``conversion_protocol``  what a hook point needs of a conversion object
``protocols``          the hook signature, for type checkers
=====================  ===================================================================

Nothing here imports the layers above (conversions, aliases, capture, reports, the plugin
host); named contributions are looked up through :mod:`hookpoints.registries`.
"""
