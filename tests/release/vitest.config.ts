import { pvProject } from '../../vitest.shared.ts';

export default pvProject('release', { testTimeout: 300_000 });
