export { VERSION } from './version';
export { composedVersions } from './versions';
