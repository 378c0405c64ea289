"""DNS propagation: which resolvers serve the new value, which still hold the old one, and when
each old copy expires. Plain asyncio and dnspython; no UI imports."""
