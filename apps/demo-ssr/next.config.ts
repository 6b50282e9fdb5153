import type { NextConfig } from 'next';

const config: NextConfig = {
  // The BFF keeps its store in this process's memory: loaded by Node, never bundled twice.
  serverExternalPackages: ['@aimable/auth-node'],
  poweredByHeader: false,
};

export default config;
