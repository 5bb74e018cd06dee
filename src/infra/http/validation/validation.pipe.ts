import { type ArgumentMetadata, Injectable, type PipeTransform, ValidationPipe } from '@nestjs/common';

const common = { transform: true, whitelist: true, forbidUnknownValues: false, stopAtFirstError: true };

/**
 * The global validation pipe. A body field the DTO does not declare is a 400
 * naming it (`property colour should not exist`): a typo must not be dropped
 * in silence. Unknown query keys are only stripped, since cache busters
 * (`?_=123`) are routine.
 */
@Injectable()
export class AppValidationPipe implements PipeTransform {
  private readonly strict = new ValidationPipe({ ...common, forbidNonWhitelisted: true });
  private readonly lenient = new ValidationPipe(common);

  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    return (metadata.type === 'body' ? this.strict : this.lenient).transform(value, metadata);
  }
}
