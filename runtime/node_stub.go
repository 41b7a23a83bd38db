package runtime

import "errors"

// TEMPORARY: replaced by the real node and service implementation.

var errTODO = errors.New("iox2: not implemented yet")

type Node struct{ config *Config }

type Attribute struct{ Key, Value string }

type PublishSubscribeService[T any] struct{}

func (b *PublishSubscribeBuilder[T]) Create() (*PublishSubscribeService[T], error)       { return nil, errTODO }
func (b *PublishSubscribeBuilder[T]) Open() (*PublishSubscribeService[T], error)         { return nil, errTODO }
func (b *PublishSubscribeBuilder[T]) OpenOrCreate() (*PublishSubscribeService[T], error) { return nil, errTODO }
