"""One side's kernel view of a TS 33.203 §7.1 SA set: four SAs, one policy each.

Both ends install the same four SAs of :class:`~ims.ipsec.keys.XfrmPlan`
(same addresses, ports, SPIs and keys); only the policy direction differs:
an SA whose destination is this side is inbound here, the others outbound.
The P-CSCF calls :func:`kernel_spec` with ``local_host`` = its address,
the emulated UE with the UE's.
"""

from __future__ import annotations

from ims.ipsec.keys import XfrmPlan
from ims.ipsec.xfrm import Direction, SaSpec, XfrmSpec, policy_for


def kernel_spec(plan: XfrmPlan, owner: str, local_host: str) -> XfrmSpec:
    """The SAs and policies of ``plan`` as ``local_host`` installs them.

    Raises:
        ValueError: ``local_host`` is neither end of the plan.
    """
    if local_host not in (plan.ue_host, plan.pcscf_host):
        raise ValueError(f"{local_host} is not an end of the SA set "
                         f"({plan.ue_host} <-> {plan.pcscf_host})")
    keys = plan.algorithms
    sas = tuple(SaSpec(s.src, s.dst, s.src_port, s.dst_port, s.spi, s.reqid, plan.alg,
                       keys.auth_key, plan.ealg, keys.enc_key) for s in plan.sas)
    policies = tuple(policy_for(s, Direction.IN if s.dst == local_host else Direction.OUT)
                     for s in sas)
    return XfrmSpec(owner, sas, policies)
