import { pvProject } from '../../vitest.shared.ts';

export default pvProject('@pv/devices');
