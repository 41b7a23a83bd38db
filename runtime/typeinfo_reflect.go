package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
)

// typeInfoOf returns the identity of payload type T: the one iox2gen
// generated for it, or one derived from the Go type. A Go type qualifies
// when it holds no pointers (no pointer, slice, map, string, interface,
// channel or function anywhere inside), so that its bytes mean the same in
// every process.
func typeInfoOf[T any]() (TypeInfo, error) {
	if tp, ok := any((*T)(nil)).(TypedPayload); ok {
		return *tp.IOX2TypeInfo(), nil
	}
	return reflectTypeInfo(reflect.TypeFor[T]())
}

func reflectTypeInfo(t reflect.Type) (TypeInfo, error) {
	var b strings.Builder
	if err := describeType(&b, t, "", 0); err != nil {
		return TypeInfo{}, fmt.Errorf("%v: %w", t, err)
	}
	if t.Size() == 0 {
		return TypeInfo{}, fmt.Errorf("%v has size 0", t)
	}
	name := t.String()
	if t.Name() != "" && t.PkgPath() != "" {
		name = t.PkgPath() + "." + t.Name()
	}
	layout := b.String()
	sum := sha256.Sum256([]byte(layout))
	return TypeInfo{
		Name:       name,
		Size:       uint64(t.Size()),
		Align:      uint64(t.Align()),
		LayoutHash: hex.EncodeToString(sum[:]),
		Layout:     layout,
	}, nil
}

// describeType writes one line per leaf field: offset, size, path, kind.
func describeType(b *strings.Builder, t reflect.Type, path string, off uintptr) error {
	switch t.Kind() {
	case reflect.Bool, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		fmt.Fprintf(b, "%d %d %s %s\n", off, t.Size(), pathOr(path), t.Kind())
		return nil
	case reflect.Int, reflect.Uint, reflect.Uintptr:
		return fmt.Errorf("field %s has type %v, whose size differs between 32- and 64-bit processes; use a sized integer", pathOr(path), t)
	case reflect.Array:
		fmt.Fprintf(b, "%d %d %s [%d]\n", off, t.Size(), pathOr(path), t.Len())
		if t.Len() == 0 {
			return nil
		}
		return describeType(b, t.Elem(), path+"[]", off)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			p := f.Name
			if path != "" {
				p = path + "." + f.Name
			}
			if err := describeType(b, f.Type, p, off+f.Offset); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("field %s has type %v, which holds a pointer and cannot cross processes", pathOr(path), t)
}

func pathOr(p string) string {
	if p == "" {
		return "."
	}
	return p
}
