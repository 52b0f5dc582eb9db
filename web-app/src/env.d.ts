/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The local mesh's admin URL under `vite dev` (no /mesh-admin.json there), e.g. http://localhost:15000. */
  readonly VITE_MESH_ADMIN_URL?: string;
}
