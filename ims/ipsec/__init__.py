"""IMS IPsec shared by the P-CSCF and the emulated UE (TS 33.203 §7, Annex I).

* :mod:`ims.ipsec.keys`: Annex I ESP keys from IK/CK, kernel algorithm
  names, and the four-SA set of §7.1 (:class:`~ims.ipsec.keys.XfrmPlan`).
* :mod:`ims.ipsec.sa`: the SAs and policies as plain data, the algorithm names.
* :mod:`ims.ipsec.spec`: one end's view of a set (which SAs are inbound).
* :mod:`ims.ipsec.netlink` and :mod:`ims.ipsec.xfrm`: the set in the Linux
  kernel over netlink XFRM; the project's only pyroute2 users.

Both sides of the association install the same four SAs, so both live
here rather than in ``pcscf/``: the emulated UE (:mod:`ims.ue`) installs
its own SAs in its network namespace, and ``ims/`` may not import a CSCF
package.
"""
