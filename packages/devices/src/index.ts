export type { DevicesErrorCode } from './errors';
export { DevicesError } from './errors';
export { VERSION } from './version';
